// safetensors reader and writer: the fixture checkpoints load with the values their README states,
// and every kind of malformed file is rejected with a message that names the problem.
#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/safetensors.h"
#include "prefscore/safetensors_torch.h"
#include "tensor_test_utils.h"

using prefscore::DType;
using prefscore::Error;
using prefscore::SafetensorsFile;
using prefscore::SafetensorsLimits;
using prefscore::SafetensorsWriter;
using prefscore::testing::data_path;

namespace {

std::string le64(uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out;
}

// A file made of a header (JSON text) and `data_bytes` zero bytes of data.
std::string make_file(const std::string& header, std::size_t data_bytes) {
  return le64(header.size()) + header + std::string(data_bytes, '\0');
}

// Parses `bytes` and returns the error message; fails the test when parsing succeeds.
std::string rejection(const std::string& bytes, const SafetensorsLimits& limits = {}) {
  try {
    SafetensorsFile::from_bytes("bad.safetensors", bytes, limits);
  } catch (const Error& e) {
    CHECK(e.path() == "bad.safetensors");
    return e.what();
  }
  FAIL("malformed file was accepted");
  return "";
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("prefscore_test_" + name)).string();
}

}  // namespace

TEST_CASE("fixture checkpoints load with the values stated in their README", "[safetensors]") {
  const auto hf = SafetensorsFile::open(data_path("models/hf/model.safetensors"));
  const auto oc = SafetensorsFile::open(data_path("models/openclip/open_clip_model.safetensors"));
  const auto mps = SafetensorsFile::open(data_path("models/mps/mps_model.safetensors"));

  SECTION("logit_scale is 4.1 in every layout") {
    for (const auto* f : {&hf, &oc}) {
      const auto& info = f->at("logit_scale");
      CHECK(info.dtype == DType::kF32);
      CHECK(info.shape.empty());
      CHECK(prefscore::tensor_view(*f, info).item<float>() == 4.1f);
    }
    CHECK(prefscore::tensor_view(mps, "model.logit_scale").item<float>() == 4.1f);
  }

  SECTION("shapes follow the README dimensions (vision 64, text 32, embed 32, 2 layers)") {
    CHECK(hf.at("vision_model.embeddings.patch_embedding.weight").shape ==
          std::vector<int64_t>{64, 3, 14, 14});
    CHECK(hf.at("vision_model.embeddings.position_embedding.weight").shape ==
          std::vector<int64_t>{257, 64});
    CHECK(hf.at("text_model.embeddings.token_embedding.weight").shape ==
          std::vector<int64_t>{49408, 32});
    CHECK(hf.at("visual_projection.weight").shape == std::vector<int64_t>{32, 64});  // [E, W]
    CHECK(oc.at("visual.proj").shape == std::vector<int64_t>{64, 32});              // [W, E]
    CHECK(oc.at("visual.transformer.resblocks.1.attn.in_proj_weight").shape ==
          std::vector<int64_t>{192, 64});
    CHECK(oc.at("positional_embedding").shape == std::vector<int64_t>{77, 32});
    CHECK(hf.contains("vision_model.pre_layrnorm.weight"));  // sic, as transformers spells it
    CHECK_FALSE(hf.contains("vision_model.encoder.layers.2.mlp.fc1.weight"));
    CHECK(hf.tensors().size() == 78);
    CHECK(hf.metadata().at("format") == "pt");
  }

  SECTION("the two layouts hold the same numbers (README mapping: q/k/v = in_proj.chunk(3))") {
    const at::Tensor packed =
        prefscore::tensor_view(oc, "visual.transformer.resblocks.0.attn.in_proj_weight");
    const auto qkv = packed.chunk(3, 0);
    const char* names[] = {"q_proj", "k_proj", "v_proj"};
    for (int i = 0; i < 3; ++i) {
      const at::Tensor hf_w = prefscore::tensor_view(
          hf, std::string("vision_model.encoder.layers.0.self_attn.") + names[i] + ".weight");
      CHECK(torch::equal(hf_w, qkv[i]));
    }
    CHECK(torch::equal(prefscore::tensor_view(hf, "text_projection.weight"),
                       prefscore::tensor_view(oc, "text_projection").t()));
    CHECK(torch::equal(prefscore::tensor_view(mps, "model.visual_projection.weight"),
                       prefscore::tensor_view(hf, "visual_projection.weight")));
    CHECK(mps.contains("cross_model.layers.1.1.fn.rotary_emb.inv_freq"));
  }

  SECTION("expected outputs file: inputs, outputs and metadata") {
    const auto expected = SafetensorsFile::open(data_path("models/expected.safetensors"));
    CHECK(expected.at("pixel_values").shape == std::vector<int64_t>{4, 3, 224, 224});
    CHECK(expected.at("openclip.logits_per_image").shape == std::vector<int64_t>{4, 5});
    const at::Tensor ids = prefscore::tensor_view(expected, "input_ids_openclip");
    CHECK(ids.sizes() == at::IntArrayRef({5, 77}));
    CHECK(ids.index({0, 0}).item<int64_t>() == 49406);  // every row starts with <start_of_text>
    CHECK(expected.metadata().at("prompts").find("astronaut riding a horse") != std::string::npos);
  }
}

TEST_CASE("views are zero-copy and outlive the file object", "[safetensors]") {
  at::Tensor view;
  const std::byte* mapped = nullptr;
  {
    const auto hf = SafetensorsFile::open(data_path("models/hf/model.safetensors"));
    const auto& info = hf.at("visual_projection.weight");
    mapped = hf.data(info);
    view = prefscore::tensor_view(hf, info);
  }
  CHECK(static_cast<const void*>(view.data_ptr()) == static_cast<const void*>(mapped));
  CHECK(view.sum().item<float>() == view.clone().sum().item<float>());
}

TEST_CASE("writer round-trips dtypes, shapes and metadata atomically", "[safetensors]") {
  SafetensorsWriter writer;
  const at::Tensor f32 = torch::arange(12, torch::kFloat32).reshape({3, 4}) / 7;
  const at::Tensor bf16 = torch::randn({5}).to(torch::kBFloat16);
  const at::Tensor i64 = torch::tensor({49406, 320, 49407}, torch::kInt64);
  const at::Tensor flags = torch::tensor({true, false}, torch::kBool);
  const at::Tensor empty = torch::zeros({0, 3}, torch::kFloat16);
  prefscore::add_tensor(writer, "f32", f32);
  prefscore::add_tensor(writer, "bf16", bf16);
  prefscore::add_tensor(writer, "empty", empty);
  prefscore::add_tensor(writer, "ids", i64);
  prefscore::add_tensor(writer, "flags", flags);
  writer.set_metadata("model", "pickscore");
  const std::string path = temp_path("roundtrip.safetensors");
  writer.write(path);

  const auto file = SafetensorsFile::open(path);
  CHECK(file.tensors().size() == 5);
  CHECK(file.metadata().at("model") == "pickscore");
  CHECK(torch::equal(prefscore::tensor_view(file, "f32"), f32));
  CHECK(torch::equal(prefscore::tensor_view(file, "bf16"), bf16));
  CHECK(torch::equal(prefscore::tensor_view(file, "ids"), i64));
  CHECK(torch::equal(prefscore::tensor_view(file, "flags"), flags));
  CHECK(prefscore::tensor_view(file, "empty").sizes() == at::IntArrayRef({0, 3}));
  // The data section starts 8-byte aligned, so views of 8-byte dtypes need no copy.
  CHECK(reinterpret_cast<std::uintptr_t>(file.data(file.at("ids"))) % 8 == 0);
  // No temporary file is left next to the output.
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path())) {
    CHECK(entry.path().filename().string().rfind("prefscore_test_roundtrip.safetensors.tmp", 0) ==
          std::string::npos);
  }
  std::filesystem::remove(path);

  CHECK_THROWS_WITH(writer.add("f32", DType::kF32, {1}, "abcd", 4),
                    Catch::Contains("added twice"));
  CHECK_THROWS_WITH(writer.add("short", DType::kF32, {2}, "abcd", 4),
                    Catch::Contains("needs 8 bytes, got 4"));
  CHECK_THROWS_WITH(writer.write("/nonexistent-dir/x.safetensors"),
                    Catch::Contains("/nonexistent-dir/x.safetensors: cannot create temporary file"));
}

TEST_CASE("malformed files are rejected with a message naming the problem", "[safetensors]") {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  // Sanity: the well-formed base case parses, so each rejection below is due to its one change.
  REQUIRE_NOTHROW(SafetensorsFile::from_bytes("ok", make_file("{" + ok_entry + "}", 8)));

  CHECK_THAT(rejection(""), Catch::Contains("0 bytes, too short"));
  CHECK_THAT(rejection("abc"), Catch::Contains("3 bytes, too short"));
  CHECK_THAT(rejection(le64(200ull << 20) + "{}"),
             Catch::Contains("header length 209715200 bytes exceeds the limit of 104857600 bytes "
                             "(not a safetensors file, or corrupt; raise the limit with "
                             "--max-header-bytes)"));
  CHECK_THAT(rejection(le64(1000) + "{}"), Catch::Contains("truncated: header says 1000"));
  CHECK_THAT(rejection(make_file("{\"a\":", 0)), Catch::Contains("not valid JSON"));
  CHECK_THAT(rejection(make_file("[1,2]", 0)), Catch::Contains("not an object"));
  CHECK_THAT(rejection(make_file(R"({"a":{"dtype":"F8","shape":[2],"data_offsets":[0,2]}})", 2)),
             Catch::Contains("tensor 'a': unknown dtype \"F8\""));
  CHECK_THAT(rejection(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("shape [3] x F32 needs 12 bytes but data_offsets span 8"));
  CHECK_THAT(rejection(make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)),
             Catch::Contains("not a non-negative integer"));
  CHECK_THAT(rejection(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)),
             Catch::Contains("end before they begin"));
  CHECK_THAT(rejection(make_file("{" + ok_entry + "}", 4)),
             Catch::Contains("data section has only 4 bytes"));
  CHECK_THAT(rejection(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                 12)),
             Catch::Contains("tensor 'b': data_offsets [4, 12] overlap tensor 'a'"));
  CHECK_THAT(rejection(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12)),
             Catch::Contains("gap of 4 unused bytes"));
  CHECK_THAT(rejection(make_file("{" + ok_entry + "}", 12)), Catch::Contains("4 trailing bytes"));
  CHECK_THAT(rejection(make_file("{" + ok_entry + "," + ok_entry + "}", 8)),
             Catch::Contains("tensor 'a' appears twice"));
  CHECK_THAT(rejection(make_file(R"({"__metadata__":{"n":1}})", 0)),
             Catch::Contains("__metadata__ value 'n' is not a string"));
  CHECK_THAT(rejection(make_file(R"({"a":{"dtype":"F32","shape":[2]}})", 0)),
             Catch::Contains("needs dtype, shape and data_offsets"));
  CHECK_THAT(rejection(make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],)"
                                 R"("data_offsets":[0,0]}})",
                                 0)),
             Catch::Contains("needs more bytes than the file has"));
  CHECK_THAT(rejection(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8)),
             Catch::Contains("is not a pair of non-negative integers"));
  SafetensorsLimits small;
  small.max_header_bytes = 16;
  CHECK_THAT(rejection(make_file("{" + ok_entry + "}", 8), small),
             Catch::Contains("exceeds the limit of 16"));
}

TEST_CASE("a truncated real checkpoint and unreadable paths are rejected", "[safetensors]") {
  const std::string full = prefscore::read_file(data_path("models/hf/model.safetensors"));
  const std::string half = full.substr(0, full.size() / 2);
  CHECK_THAT(rejection(half), Catch::Contains("(file truncated?)"));
  CHECK_THROWS_WITH(SafetensorsFile::open(data_path("no-such-file.safetensors")),
                    Catch::Contains("no-such-file.safetensors: cannot open: No such file"));
  CHECK_THROWS_WITH(SafetensorsFile::open(data_path("models")), Catch::Contains("is a directory"));
  const auto hf = SafetensorsFile::open(data_path("models/hf/model.safetensors"));
  CHECK_THROWS_WITH(hf.at("nope"), Catch::Contains("model.safetensors: no tensor named 'nope'"));
}

TEST_CASE("issue 10: a deeply nested header is refused, not a stack overflow", "[safetensors]") {
  // A dtype nested 1,000,000 levels deep: printing it in the error message recursed once per
  // level. The parser now refuses nesting deeper than 8 (a real header has 3 levels).
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  CHECK(rejection(make_file(R"({"a":{"dtype":)" + deep + R"(,"shape":[],"data_offsets":[0,0]}})",
                            0)) == "bad.safetensors: header JSON nests deeper than 8 levels");
  // Eight levels are fine (and this one is then refused for its dtype, not its depth).
  const std::string eight = std::string(6, '[') + std::string(6, ']');
  CHECK_THAT(rejection(make_file(R"({"a":{"dtype":)" + eight + R"(,"shape":[],"data_offsets":[0,0]}})",
                                 0)),
             Catch::Contains("unknown dtype [[[[[[]]]]]]"));
}
