// Image decoding and the three preprocessing pipelines on arbitrary bytes. The pixel limit is low
// (64 Ki pixels) so that each input stays fast; the limit check itself is part of what is fuzzed.
// A custom mutator repairs the chunk CRCs of mutated PNGs most of the time: libpng refuses a
// critical chunk with a bad CRC, so without it nearly every mutated PNG stops in libpng and never
// reaches the comparison of what OpenCV decodes with what the header said, nor the pipelines.
#include <zlib.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "fuzz_utils.h"
#include "prefscore/image.h"

namespace {

void check_pixels(const prefscore::PixelValues& v, int image_size) {
  if (v.channels != 3 || v.height != image_size || v.width != image_size ||
      v.chw.size() != static_cast<std::size_t>(3 * image_size * image_size)) {
    std::fprintf(stderr, "pipeline output is %dx%dx%d (%zu values), expected 3x%dx%d\n", v.channels,
                 v.height, v.width, v.chw.size(), image_size, image_size);
    std::abort();
  }
  for (float x : v.chw) {
    if (!std::isfinite(x)) {
      std::fprintf(stderr, "pipeline output has a non-finite value\n");
      std::abort();
    }
  }
}

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Rewrites the CRC of every whole chunk of a PNG (signature, then length, type, data, CRC over
// type and data); stops at the first chunk that runs past the end.
void repair_png_crcs(uint8_t* data, size_t size) {
  static constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size < sizeof(kSignature) || std::memcmp(data, kSignature, sizeof(kSignature)) != 0) return;
  size_t at = sizeof(kSignature);
  while (size - at >= 12) {
    const uint64_t length = read_be32(data + at);
    if (length > size - at - 12) return;
    const uint32_t crc = static_cast<uint32_t>(
        crc32(0, data + at + 4, static_cast<uInt>(4 + length)));  // type + data
    uint8_t* out = data + at + 8 + length;
    out[0] = static_cast<uint8_t>(crc >> 24);
    out[1] = static_cast<uint8_t>(crc >> 16);
    out[2] = static_cast<uint8_t>(crc >> 8);
    out[3] = static_cast<uint8_t>(crc);
    at += 12 + length;
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

// libFuzzer's own mutations, then the CRC repair for 7 inputs in 8 (the eighth keeps whatever CRCs
// the mutation left, so that libpng's CRC errors stay exercised too).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (seed % 8 != 0) repair_png_crcs(data, size);
  return size;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  prefscore::DecodeOptions decode;
  decode.max_pixels = 1 << 16;
  // The header parser alone, then the decoder (which parses the header again and checks the limit).
  prefscore::fuzz::expect_only_errors("read_image_header",
                                      [&] { (void)prefscore::read_image_header(bytes, "fuzz"); });
  prefscore::fuzz::expect_only_errors("decode_image + preprocess_image", [&] {
    const prefscore::PilImage image = prefscore::decode_image(bytes, "fuzz", decode);
    // One pipeline and output size per input, chosen by the input's length (mutations change it),
    // keeps each execution cheap. Size 7 reaches the crop and letterbox edge cases (an output
    // larger than the image, odd offsets) with little work; 224 is what every real model uses.
    constexpr prefscore::Pipeline kPipelines[] = {
        prefscore::Pipeline::kOpenClip, prefscore::Pipeline::kHf, prefscore::Pipeline::kHpsv2};
    prefscore::PreprocessOptions options;
    options.pipeline = kPipelines[size % 3];
    options.image_size = (size / 3) % 2 == 0 ? 224 : 7;
    options.decode = decode;
    check_pixels(prefscore::preprocess_image(image, options), options.image_size);
  });
  prefscore::fuzz::expect_only_errors("decode_image with EXIF transpose", [&] {
    if (prefscore::read_image_header(bytes, "fuzz").exif_orientation == 1) return;  // as above
    decode.exif_transpose = true;
    const prefscore::PilImage image = prefscore::decode_image(bytes, "fuzz", decode);
    prefscore::PreprocessOptions options;
    options.decode = decode;
    check_pixels(prefscore::preprocess_image(image, options), options.image_size);
  });
  return 0;
}
