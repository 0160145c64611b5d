// Image decoding and the three preprocessing pipelines on arbitrary bytes. The pixel limit is low
// (64 Ki pixels) so that each input stays fast; the limit check itself is part of what is fuzzed.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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

}  // namespace

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
