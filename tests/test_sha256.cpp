// SHA-256 against the FIPS 180-2 appendix B examples and against coreutils' sha256sum.
#include <filesystem>
#include <fstream>
#include <random>

#include "prefscore/error.h"
#include "prefscore/sha256.h"
#include "test_utils.h"

using prefscore::sha256_file_hex;
using prefscore::sha256_hex;

TEST_CASE("SHA-256 of the FIPS 180-2 examples", "[sha256]") {
  // FIPS 180-2 appendix B.1, B.2, B.3, and the empty message (NIST CAVP SHA256ShortMsg, Len = 0).
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("SHA-256 streaming: any split of the input gives the same digest", "[sha256]") {
  std::string message;
  std::mt19937 random(7);
  for (int i = 0; i < 1000; ++i) message.push_back(static_cast<char>(random()));
  const std::string whole = sha256_hex(message);
  // Splits around the 55/56/64-byte padding boundaries and odd chunk sizes.
  for (std::size_t chunk : {1, 3, 55, 56, 63, 64, 65, 127, 999}) {
    prefscore::Sha256 hash;
    for (std::size_t at = 0; at < message.size(); at += chunk) {
      hash.update(std::string_view(message).substr(at, chunk));
    }
    INFO("chunk " << chunk);
    CHECK(hash.finish_hex() == whole);
  }
  // Lengths at the padding boundaries, one message each, against the one-shot digest of a copy.
  for (std::size_t n : {55, 56, 57, 63, 64, 65}) {
    prefscore::Sha256 bytewise;
    for (std::size_t i = 0; i < n; ++i) bytewise.update(message.data() + i, 1);
    CHECK(bytewise.finish_hex() == sha256_hex(message.substr(0, n)));
  }
}

TEST_CASE("SHA-256 of a file equals sha256sum's", "[sha256]") {
  const auto dir = prefscore::testing::fresh_temp_dir("sha256");
  const std::string path = (dir / "blob.bin").string();
  {
    std::ofstream out(path, std::ios::binary);
    std::mt19937 random(11);
    // 3 MiB + 17 bytes: several read chunks and a partial block.
    for (int i = 0; i < (3 << 20) + 17; ++i) out.put(static_cast<char>(random()));
  }
  const auto r = prefscore::testing::run_command("/usr/bin/sha256sum " + path);
  REQUIRE(r.exit_code == 0);
  CHECK(sha256_file_hex(path) == r.out.substr(0, 64));
  REQUIRE_THROWS_WITH(sha256_file_hex((dir / "missing").string()),
                      Catch::StartsWith((dir / "missing").string() + ": cannot open for reading"));
  REQUIRE_THROWS_WITH(sha256_file_hex(dir.string()), Catch::Contains("is a directory"));
  std::filesystem::remove_all(dir);
}
