// Image decoding and the openclip / hf / hpsv2 pipelines against the official Python outputs
// (tests/data/preprocess/README.md: sources, what each tensor is, tolerances). One file for the
// module, in four parts: golden fixtures, Pillow resize in every mode, rules, malformed inputs.
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>

#include "prefscore/error.h"
#include "prefscore/image.h"
#include "prefscore/image_torch.h"
#include "prefscore/io.h"
#include "prefscore/safetensors.h"
#include "test_utils.h"

namespace {

using namespace prefscore;
using prefscore::testing::data_path;
using prefscore::testing::copy_values;
using prefscore::testing::require_allclose;

// One uint8 step of a normalized value is 1 / (255 * std): at least 0.0142 (the acceptance
// bound), at most 0.0150 (used for the allowed CMYK difference without libjpeg).
constexpr double kOneLevel = 1.0 / (255.0 * 0.27577711);
constexpr double kOneLevelLargest = 1.0 / (255.0 * 0.26130258);

const std::byte* tensor_data(const SafetensorsFile& file, const std::string& name, DType dtype,
                             const std::vector<int64_t>& shape) {
  const TensorInfo& info = file.at(name);
  INFO(file.path() << ": " << name);
  REQUIRE(info.dtype == dtype);
  REQUIRE(info.shape == shape);
  return file.data(info);
}

// Exact comparison of an 8-bit image with a fixture [H, W, bands] uint8; returns the share of
// equal values and requires the largest difference to be at most `max_levels`.
double require_u8_close(const PilImage& got, const SafetensorsFile& file, const std::string& name,
                        int max_levels) {
  REQUIRE(got.mode != PilMode::kI);
  const auto* want = reinterpret_cast<const uint8_t*>(
      tensor_data(file, name, DType::kU8, {got.height, got.width, got.bands}));
  std::size_t equal = 0;
  int max_diff = 0;
  std::size_t first_bad = got.pixels_u8.size();
  for (std::size_t i = 0; i < got.pixels_u8.size(); ++i) {
    const int diff = std::abs(int{got.pixels_u8[i]} - int{want[i]});
    equal += diff == 0;
    if (diff > max_levels && first_bad == got.pixels_u8.size()) first_bad = i;
    max_diff = std::max(max_diff, diff);
  }
  const double share = got.pixels_u8.empty() ? 1.0 : double(equal) / got.pixels_u8.size();
  INFO(name << ": " << share * 100 << "% equal, max diff " << max_diff
            << " levels, first bad index " << first_bad);
  REQUIRE(max_diff <= max_levels);
  return share;
}

double require_pixel_values(const PixelValues& got, const SafetensorsFile& file,
                            const std::string& name, double atol) {
  const std::vector<float> want = copy_values<float>(
      tensor_data(file, name, DType::kF32, {got.channels, got.height, got.width}),
      got.chw.size());
  return require_allclose(got.chw.data(), want.data(), got.chw.size(), atol, 0.0, name);
}

std::string stem_of(const std::string& file) { return file.substr(0, file.rfind('.')); }

// CMYK JPEGs are exact when built with libjpeg; through OpenCV they decode to RGB, up to 1 level
// off, and up to 2 levels after resizing. Returns the allowed difference in levels.
int cmyk_levels(const std::string& pil_mode) {
  return pil_mode == "CMYK" && !cmyk_jpeg_matches_pil() ? 2 : 0;
}

void require_mode(const PilImage& image, const std::string& pil_mode) {
  const bool fallback = cmyk_levels(pil_mode) > 0;
  REQUIRE(std::string(pil_mode_name(image.mode)) == (fallback ? "RGB" : pil_mode));
}

const char* const kSharedImages[] = {"rgb_640x480.png",
                                     "gray_L_300x200.png",
                                     "rgba_256x320.png",
                                     "palette_P_200x150.png",
                                     "cmyk_320x240.jpg",
                                     "gray16_I16_200x180.png",
                                     "rgb16_170x150.png",
                                     "wide_1000x50.png",
                                     "tiny_7x9.png",
                                     "exact_224x224.png",
                                     "odd_333x517.jpg",
                                     "exif_orient6_400x300.jpg",
                                     "skimage_astronaut_512.jpg",
                                     "skimage_chelsea_451x300.png",
                                     "skimage_coffee_600x400.jpg"};

// The fixture's uint8 crop, normalized: bit for bit the official float tensor
// (scripts/make_preprocess_test_data.py asserts it for every image; the test below checks it on
// the float tensors kept).
PixelValues normalized_fixture(const SafetensorsFile& file, const std::string& name, int size) {
  PilImage crop;
  crop.width = crop.height = size;
  const auto* u8 =
      reinterpret_cast<const uint8_t*>(tensor_data(file, name, DType::kU8, {size, size, 3}));
  crop.pixels_u8.assign(u8, u8 + size * size * 3);
  return normalize_clip(crop);
}

TEST_CASE("every shared fixture image, all three pipelines", "[image]") {
  std::ostringstream table;
  table << std::left << std::setw(29) << "image" << std::setw(6) << "mode" << std::setw(12)
        << "openclip" << std::setw(12) << "hf" << std::setw(12) << "openclip" << std::setw(12)
        << "hf" << std::setw(12) << "hpsv2"
        << "\n"
        << std::setw(35) << "" << std::setw(24) << "% u8 equal"
        << "max abs error, normalized\n";
  double worst = 0.0;
  for (const std::string file : kSharedImages) {
    INFO(file);
    const SafetensorsFile fixture =
        SafetensorsFile::open(data_path("preprocess/tensors/" + stem_of(file) + ".safetensors"));
    const PilImage image = load_image(data_path("preprocess/images/" + file));
    const std::string pil_mode = fixture.metadata().at("pil_mode");
    require_mode(image, pil_mode);
    const int levels = cmyk_levels(pil_mode);
    const double atol = levels > 0 ? levels * kOneLevelLargest + 1e-6 : kOneLevel;
    // Without libjpeg, CMYK decodes up to 1 level off (convert("RGB") of the decoded image).
    require_u8_close(convert_to_rgb(image), fixture, "decoded_rgb_u8", levels > 0 ? 1 : 0);
    if (fixture.contains("openclip_resized_u8")) {
      const ImageSize size = shortest_side_size(image.width, image.height, 224);
      require_u8_close(convert_to_rgb(pil_resize_bicubic(image, size.width, size.height)), fixture,
                       "openclip_resized_u8", levels);
    }
    const std::string hf_u8 =
        fixture.contains("hf_cropped_u8") ? "hf_cropped_u8" : "openclip_cropped_u8";
    const double openclip_share = require_u8_close(resize_and_crop(image, Pipeline::kOpenClip, 224),
                                                   fixture, "openclip_cropped_u8", levels);
    const double hf_share =
        require_u8_close(resize_and_crop(image, Pipeline::kHf, 224), fixture, hf_u8, levels);

    PreprocessOptions options;
    const PixelValues openclip = preprocess_image(image, options);
    const PixelValues openclip_want = normalized_fixture(fixture, "openclip_cropped_u8", 224);
    const double openclip_max = require_allclose(openclip.chw.data(), openclip_want.chw.data(),
                                                 openclip.chw.size(), atol, 0.0, "openclip");
    if (fixture.contains("openclip_pixel_values")) {
      require_pixel_values(openclip, fixture, "openclip_pixel_values", atol);
    }
    options.pipeline = Pipeline::kHf;
    const PixelValues hf = preprocess_image(image, options);
    const PixelValues hf_want = normalized_fixture(fixture, hf_u8, 224);
    const double hf_max =
        require_allclose(hf.chw.data(), hf_want.chw.data(), hf.chw.size(), atol, 0.0, "hf");
    if (fixture.contains("hf_pixel_values")) {
      require_pixel_values(hf, fixture, "hf_pixel_values", atol);
    }
    options.pipeline = Pipeline::kHpsv2;
    const double hpsv2_max = require_pixel_values(preprocess_image(image, options), fixture,
                                                  "hpsv2_pixel_values", levels > 0 ? atol : 1e-5);
    worst = std::max({worst, openclip_max, hf_max, hpsv2_max});
    table << std::setw(29) << file << std::setw(6) << pil_mode_name(image.mode) << std::setw(12)
          << openclip_share * 100 << std::setw(12) << hf_share * 100 << std::setw(12)
          << openclip_max << std::setw(12) << hf_max << std::setw(12) << hpsv2_max << "\n";
  }
  std::cout << "[image] shared fixtures vs PIL / the official pipelines (bound: 1 level = "
            << kOneLevel << ")\n"
            << table.str() << "worst max abs error: " << worst << "\n";
}

TEST_CASE("normalization: the fixtures' float tensors are the uint8 crops normalized", "[image]") {
  for (const std::string stem : {"rgb_640x480", "gray16_I16_200x180", "odd_333x517"}) {
    const SafetensorsFile fixture =
        SafetensorsFile::open(data_path("preprocess/tensors/" + stem + ".safetensors"));
    require_pixel_values(normalized_fixture(fixture, "openclip_cropped_u8", 224), fixture,
                         "openclip_pixel_values", 0.0);
  }
  const SafetensorsFile odd =
      SafetensorsFile::open(data_path("preprocess/tensors/odd_333x517.safetensors"));
  require_pixel_values(normalized_fixture(odd, "hf_cropped_u8", 224), odd, "hf_pixel_values", 0.0);
  // transformers rescales in float64 (x * (1/255)) before the float32 cast: the same values.
  for (int v = 0; v < 256; ++v) {
    INFO(v);
    REQUIRE(static_cast<float>(v * (1.0 / 255.0)) == static_cast<float>(v) / 255.0f);
  }
}

TEST_CASE("extra modes and formats at image_size 32", "[image]") {
  const SafetensorsFile expected =
      SafetensorsFile::open(data_path("preprocess/extra/expected.safetensors"));
  int checked = 0;
  for (const auto& [file, mode] : expected.metadata()) {
    INFO(file);
    const std::string path = data_path("preprocess/extra/" + file);
    const PilImage image = load_image(path);
    require_mode(image, mode);
    const int levels = cmyk_levels(mode);
    require_u8_close(convert_to_rgb(image), expected, file + "/decoded_rgb_u8", levels > 0 ? 1 : 0);
    if (expected.contains(file + "/exif_transposed_rgb_u8")) {
      DecodeOptions transpose;
      transpose.exif_transpose = true;
      require_u8_close(convert_to_rgb(load_image(path, transpose)), expected,
                       file + "/exif_transposed_rgb_u8", /*max_levels=*/0);
    }
    ++checked;
    if (file.rfind("orient", 0) == 0) continue;
    require_u8_close(resize_and_crop(image, Pipeline::kOpenClip, 32), expected,
                     file + "/openclip_cropped_u8", levels);
    require_u8_close(resize_and_crop(image, Pipeline::kHf, 32), expected, file + "/hf_cropped_u8",
                     levels);
    require_pixel_values(letterbox_hpsv2(image, 32), expected, file + "/hpsv2_pixel_values",
                         levels > 0 ? levels * kOneLevelLargest + 1e-6 : 1e-5);
  }
  REQUIRE(checked == 33);
}

TEST_CASE("Pillow resize in every mode (random images, up- and downscaling)", "[image]") {
  const SafetensorsFile cases = SafetensorsFile::open(data_path("preprocess/resample.safetensors"));
  REQUIRE(cases.metadata().size() == 21);
  for (const auto& [name, what] : cases.metadata()) {
    INFO(name << ": " << what);
    const std::string mode_name = what.substr(0, what.find(' '));
    const TensorInfo& in = cases.at(name + "/input");
    const TensorInfo& out = cases.at(name + "/output");
    PilImage image;
    for (PilMode m : {PilMode::k1, PilMode::kL, PilMode::kLA, PilMode::kP, PilMode::kI,
                      PilMode::kRGB, PilMode::kRGBA, PilMode::kCMYK}) {
      if (pil_mode_name(m) == mode_name) image.mode = m;
    }
    REQUIRE(pil_mode_name(image.mode) == mode_name);
    image.height = static_cast<int>(in.shape[0]);
    image.width = static_cast<int>(in.shape[1]);
    image.bands = static_cast<int>(in.shape[2]);
    const auto* bytes = reinterpret_cast<const uint8_t*>(cases.data(in));
    if (image.mode == PilMode::kI) {
      image.pixels_i32 = copy_values<int32_t>(cases.data(in), static_cast<std::size_t>(in.numel()));
    } else {
      image.pixels_u8.assign(bytes, bytes + in.numel());
    }
    const PilImage resized =
        pil_resize_bicubic(image, static_cast<int>(out.shape[1]), static_cast<int>(out.shape[0]));
    if (image.mode == PilMode::kI) {
      REQUIRE(resized.pixels_i32.size() == static_cast<std::size_t>(out.numel()));
      const std::vector<int32_t> want =
          copy_values<int32_t>(cases.data(out), resized.pixels_i32.size());
      require_allclose(resized.pixels_i32.data(), want.data(), resized.pixels_i32.size(), 0.0, 0.0,
                       name);
    } else {
      require_u8_close(resized, cases, name + "/output", /*max_levels=*/0);
    }
  }
}

TEST_CASE("a pipeline's window equals the same crop of the full Pillow resize", "[image]") {
  const PilImage image = load_image(data_path("preprocess/images/odd_333x517.jpg"));
  const ImageSize size = shortest_side_size(image.width, image.height, 224);
  const PilImage full = pil_resize_bicubic(image, size.width, size.height);
  REQUIRE(full.width == 224);
  REQUIRE(full.height == 347);
  // torchvision crops at row 62, transformers at row 61: both must be exactly those rows.
  for (const auto& [pipeline, top] : {std::pair{Pipeline::kOpenClip, 62}, {Pipeline::kHf, 61}}) {
    const PilImage window = resize_and_crop(image, pipeline, 224);
    REQUIRE(window.pixels_u8 == crop_image(full, 0, top, 224, 224).pixels_u8);
  }
}

TEST_CASE("hpsv2 resize equals LibTorch's upsample_bicubic2d", "[image]") {
  std::mt19937 rng(7);
  for (const auto& [w, h] : {std::pair{640, 480},
                             {7, 9},
                             {1000, 50},
                             {300, 301},
                             {225, 224},
                             {97, 1503},
                             {2, 3},
                             {451, 300}}) {
    INFO(w << "x" << h);
    PilImage image;
    image.width = w;
    image.height = h;
    image.pixels_u8.resize(static_cast<std::size_t>(w) * h * 3);
    for (uint8_t& v : image.pixels_u8) v = static_cast<uint8_t>(rng() & 255);
    const PixelValues got = letterbox_hpsv2(image, 224);
    const ImageSize size = longest_side_size(w, h, 224);
    at::Tensor t = torch::from_blob(image.pixels_u8.data(), {h, w, 3}, torch::kUInt8)
                       .permute({2, 0, 1})
                       .to(torch::kFloat32)
                       .div(255)
                       .unsqueeze(0);
    t = at::upsample_bicubic2d(t, {size.height, size.width}, /*align_corners=*/false);
    const int pad_w = 224 - size.width;
    const int pad_h = 224 - size.height;
    t = torch::constant_pad_nd(t, {pad_w / 2, pad_w - pad_w / 2, pad_h / 2, pad_h - pad_h / 2}, 0);
    const at::Tensor mean = torch::tensor({0.48145466f, 0.4578275f, 0.40821073f}).view({3, 1, 1});
    const at::Tensor std = torch::tensor({0.26862954f, 0.26130258f, 0.27577711f}).view({3, 1, 1});
    const at::Tensor want = ((t[0] - mean) / std).contiguous();
    REQUIRE(got.chw.size() == static_cast<std::size_t>(want.numel()));
    require_allclose(got.chw.data(), want.data_ptr<float>(), got.chw.size(), 1e-5, 0.0, "hpsv2");
  }
}

TEST_CASE("hpsv2 pads an image whose longest side is already the output size", "[image]") {
  PilImage image;
  image.width = 32;
  image.height = 20;
  image.pixels_u8.resize(32 * 20 * 3, 255);
  const PixelValues got = letterbox_hpsv2(image, 32);
  REQUIRE(got.height == 32);
  REQUIRE(got.width == 32);
  const float white = (1.0f - 0.48145466f) / 0.26862954f;
  const float black = (0.0f - 0.48145466f) / 0.26862954f;
  for (int y = 0; y < 32; ++y) {
    INFO("row " << y);
    REQUIRE(got.chw[y * 32 + 5] == (y >= 6 && y < 26 ? white : black));  // top pad (32-20)/2 = 6
  }
}

TEST_CASE("resize sizes and crop offsets follow torchvision, transformers and HPSv2", "[image]") {
  struct SizeCase {
    int w, h, want_w, want_h;
  };
  for (const SizeCase& c : {SizeCase{640, 480, 298, 224},
                            {300, 200, 336, 224},
                            {256, 320, 224, 280},
                            {200, 180, 248, 224},
                            {170, 150, 253, 224},
                            {1000, 50, 4480, 224},
                            {7, 9, 224, 288},
                            {224, 224, 224, 224},
                            {333, 517, 224, 347},
                            {427, 640, 224, 335},
                            {1, 1, 224, 224}}) {
    INFO(c.w << "x" << c.h);
    REQUIRE(shortest_side_size(c.w, c.h, 224) == ImageSize{c.want_w, c.want_h});
  }
  REQUIRE_THROWS_WITH(shortest_side_size(100'000'000, 1, 224),
                      "image is 100000000x1: resizing its short side to 224 makes the long side "
                      "22400000000 pixels, more than PIL can resize to");
  // Python round(): half to even. (347-224)/2 = 61.5 -> 62; (335-224)/2 = 55.5 -> 56;
  // (225-224)/2 = 0.5 -> 0; (227-224)/2 = 1.5 -> 2; transformers floors.
  for (const auto& [size, round_even, floor] : {std::tuple{347, 62, 61},
                                                {335, 56, 55},
                                                {225, 0, 0},
                                                {227, 2, 1},
                                                {298, 37, 37},
                                                {224, 0, 0},
                                                {4480, 2128, 2128}}) {
    INFO(size);
    REQUIRE(center_crop_offset_torchvision(size, 224) == round_even);
    REQUIRE(center_crop_offset_floor(size, 224) == floor);
  }
  // HPSv2: round(side * 224 / longest), half to even: 2.5 -> 2, 3.5 -> 4.
  REQUIRE(longest_side_size(640, 480, 224) == ImageSize{224, 168});
  REQUIRE(longest_side_size(7, 9, 224) == ImageSize{174, 224});
  REQUIRE(longest_side_size(448, 5, 224) == ImageSize{224, 2});
  REQUIRE(longest_side_size(448, 7, 224) == ImageSize{224, 4});
  Pipeline pipeline = Pipeline::kOpenClip;
  REQUIRE(parse_pipeline("hpsv2", &pipeline));
  REQUIRE(pipeline == Pipeline::kHpsv2);
  REQUIRE(parse_pipeline("hf", &pipeline));
  REQUIRE(pipeline == Pipeline::kHf);
  REQUIRE_FALSE(parse_pipeline("open_clip", &pipeline));
}

TEST_CASE("convert(\"RGB\") per mode, as Pillow's Convert.c", "[image]") {
  auto one_pixel = [](PilMode mode, std::vector<uint8_t> bands) {
    PilImage image;
    image.mode = mode;
    image.width = image.height = 1;
    image.bands = static_cast<int>(bands.size());
    image.pixels_u8 = std::move(bands);
    return convert_to_rgb(image).pixels_u8;
  };
  using Rgb = std::vector<uint8_t>;
  REQUIRE(one_pixel(PilMode::kL, {77}) == Rgb{77, 77, 77});
  REQUIRE(one_pixel(PilMode::kLA, {77, 0}) == Rgb{77, 77, 77});
  REQUIRE(one_pixel(PilMode::kRGBA, {1, 2, 3, 0}) == Rgb{1, 2, 3});  // stored colour kept
  // cmyk2rgb: nk = 255 - k; r = nk - round(c * nk / 255).
  REQUIRE(one_pixel(PilMode::kCMYK, {0, 0, 0, 0}) == Rgb{255, 255, 255});
  REQUIRE(one_pixel(PilMode::kCMYK, {255, 128, 0, 0}) == Rgb{0, 127, 255});
  REQUIRE(one_pixel(PilMode::kCMYK, {100, 0, 0, 55}) == Rgb{122, 200, 200});
  REQUIRE(one_pixel(PilMode::kCMYK, {0, 0, 0, 255}) == Rgb{0, 0, 0});
  PilImage gray16;
  gray16.mode = PilMode::kI;
  gray16.width = 4;
  gray16.height = 1;
  gray16.bands = 1;
  gray16.pixels_i32 = {-5, 0, 200, 40000};  // clipped, not scaled
  REQUIRE(convert_to_rgb(gray16).pixels_u8 == Rgb{0, 0, 0, 0, 0, 0, 200, 200, 200, 255, 255, 255});
}

TEST_CASE("RGBA resizes premultiplied: transparent pixels turn black in openclip only", "[image]") {
  PilImage image;
  image.mode = PilMode::kRGBA;
  image.width = 448;
  image.height = 448;
  image.bands = 4;
  image.pixels_u8.resize(448 * 448 * 4);
  for (std::size_t i = 0; i < image.pixels_u8.size(); i += 4) {
    image.pixels_u8[i] = 250;  // red, fully transparent
    image.pixels_u8[i + 3] = 0;
  }
  REQUIRE(resize_and_crop(image, Pipeline::kOpenClip, 224).pixels_u8 ==
          std::vector<uint8_t>(224 * 224 * 3, 0));
  REQUIRE(resize_and_crop(image, Pipeline::kHf, 224).pixels_u8[0] == 250);
}

TEST_CASE("decoding follows Image.open: no EXIF rotation unless asked", "[image]") {
  const std::string path = data_path("preprocess/images/exif_orient6_400x300.jpg");
  const PilImage plain = load_image(path);
  REQUIRE(plain.width == 400);
  REQUIRE(plain.height == 300);
  DecodeOptions options;
  options.exif_transpose = true;
  const PilImage rotated = load_image(path, options);
  REQUIRE(rotated.width == 300);
  REQUIRE(rotated.height == 400);
  // Orientation 6 is a clockwise quarter turn: OpenCV's own orientation handling agrees.
  REQUIRE(rotated.pixels_u8 == apply_exif_orientation(plain, 6).pixels_u8);
  REQUIRE(read_image_header(read_file(path), path).exif_orientation == 6);
}

TEST_CASE("stack_pixel_values batches in order and checks shapes", "[image]") {
  PixelValues a{std::vector<float>(12, 1.0f), 3, 2, 2};
  PixelValues b{std::vector<float>(12, 2.0f), 3, 2, 2};
  const at::Tensor batch = stack_pixel_values({a, b});
  REQUIRE(batch.sizes() == at::IntArrayRef({2, 3, 2, 2}));
  REQUIRE(batch[1][2][1][1].item<float>() == 2.0f);
  PixelValues c{std::vector<float>(3, 0.0f), 3, 1, 1};
  REQUIRE_THROWS_WITH(stack_pixel_values({a, c}),
                      Catch::Contains("image 1 is [3, 1, 1], expected [3, 2, 2]"));
  REQUIRE_THROWS_WITH(stack_pixel_values({}), Catch::Contains("no images to stack"));
}

// --- malformed inputs: one clear Error naming the input, never a crash -------------------------

std::string image_bytes(const std::string& name) {
  return read_file(data_path("preprocess/images/" + name));
}

void put_be32(std::string& bytes, std::size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(value >> (24 - 8 * i));
}

void require_decode_error(const std::string& bytes, const std::string& message,
                          const DecodeOptions& options = {}) {
  INFO("expected: " << message);
  try {
    decode_image(bytes, "input.img", options);
    FAIL("decoded without an error");
  } catch (const Error& e) {
    REQUIRE(e.path() == "input.img");
    REQUIRE_THAT(e.reason(), Catch::Contains(message));
  }
}

TEST_CASE("empty, non-image and unsupported files", "[image]") {
  require_decode_error("", "file is empty (0 bytes), expected an image");
  require_decode_error("hello, world",
                       "not an image: expected a PNG, JPEG, WebP or BMP file, first bytes are "
                       "68 65 6c 6c 6f 2c 20 77");
  require_decode_error("GIF89a\x01\x00\x01\x00", "GIF is not supported");
  require_decode_error(std::string("II*\0\x08\0\0\0", 8), "TIFF is not supported");
  std::string bmp(54, '\0');
  bmp.replace(0, 2, "BM");
  bmp[14] = 40;           // BITMAPINFOHEADER
  bmp[18] = bmp[22] = 4;  // 4x4
  bmp[28] = 16;           // bits per pixel
  require_decode_error(bmp, "unsupported BMP with 16 bits per pixel, expected 1, 4, 8, 24 or 32");
  std::string webp("RIFF\x16\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0\0\0\0\0\0\0", 30);
  require_decode_error(webp, "animated WebP is not supported");
}

TEST_CASE("issue 10: a BMP height of -2^31 is read as 2^31 - 1, not overflowed", "[image]") {
  std::string bmp(54, '\0');
  bmp.replace(0, 2, "BM");
  bmp[14] = 40;  // BITMAPINFOHEADER
  bmp[18] = 4;   // width 4
  bmp[25] = static_cast<char>(0x80);  // height 0x80000000 = -2^31 (top-down): std::abs overflowed
  bmp[28] = 24;
  require_decode_error(bmp, "truncated BMP: 4x2147483647 pixels need 25769803764 bytes, the file "
                            "has 54");
}

TEST_CASE("truncated and corrupt files", "[image]") {
  const std::string png = image_bytes("rgb_640x480.png");
  require_decode_error(png.substr(0, 20), "truncated PNG: no complete IHDR chunk");
  require_decode_error(png.substr(0, png.size() / 2), "truncated PNG: chunk 'IDAT' at byte");
  std::string corrupt = png;
  for (std::size_t i = png.size() / 2; i < png.size() / 2 + 64; ++i) corrupt[i] ^= 0x5a;
  require_decode_error(corrupt, "cannot decode the PNG pixel data (corrupt or truncated file)");
  // OpenCV fails in its header step here and leaves its output untouched: still an error.
  std::string bad_header_crc = png;
  bad_header_crc[29] ^= 0x5a;
  require_decode_error(bad_header_crc, "cannot decode the PNG pixel data");
  const std::string no_pixels = png.substr(0, 33) + png.substr(png.size() - 12);  // IHDR, IEND
  require_decode_error(no_pixels, "truncated PNG: no IDAT chunk");

  const std::string jpeg = image_bytes("odd_333x517.jpg");
  require_decode_error(jpeg.substr(0, jpeg.size() * 6 / 10),
                       "truncated JPEG: no end-of-image marker (FF D9) after the scan data");
  require_decode_error(jpeg.substr(0, 3), "truncated JPEG: the file ends before the frame header");
  require_decode_error(jpeg.substr(0, 170), "truncated JPEG: segment 0xFFc0 at byte 158 needs 17");
  const std::string bmp = read_file(data_path("preprocess/extra/rgb24_41x29.bmp"));
  require_decode_error(bmp.substr(0, bmp.size() - 1),
                       "truncated BMP: 41x29 pixels need " + std::to_string(bmp.size()) +
                           " bytes, the file has " + std::to_string(bmp.size() - 1));
  const std::string webp = read_file(data_path("preprocess/extra/lossless_41x29.webp"));
  require_decode_error(webp.substr(0, webp.size() / 2), "truncated WebP: the RIFF header declares");
}

TEST_CASE("sizes and sample formats the header refuses", "[image]") {
  std::string png = image_bytes("rgb_640x480.png");
  std::string zero = png;
  put_be32(zero, 16, 0);
  require_decode_error(zero, "PNG image is 0x480 pixels, need at least 1x1");
  std::string odd_depth = png;
  odd_depth[24] = 3;
  require_decode_error(odd_depth, "unsupported PNG bit depth 3 with colour type 2");

  // The IDAT data does not fit 20000x20000: the refusal comes from the header alone.
  std::string bomb = png;
  put_be32(bomb, 16, 20000);
  put_be32(bomb, 20, 20000);
  require_decode_error(bomb,
                       "image is 20000x20000 = 400000000 pixels, more than the limit of "
                       "100000000");
  DecodeOptions limit;
  limit.max_pixels = 640 * 480 - 1;
  require_decode_error(png, "image is 640x480 = 307200 pixels, more than the limit of 307199",
                       limit);
  limit.max_pixels = 640 * 480;
  REQUIRE(decode_image(png, "input.img", limit).width == 640);

  const std::string jpeg = image_bytes("odd_333x517.jpg");  // SOF0 at byte 158
  std::string deep = jpeg;
  deep[158 + 4] = 12;
  require_decode_error(deep, "cannot handle 12-bit JPEG samples, expected 8-bit");
  std::string two = jpeg;
  two[158 + 9] = 2;
  require_decode_error(two, "cannot handle a JPEG with 2 components, expected 1, 3 or 4");
  std::string flat = jpeg;
  flat[158 + 5] = flat[158 + 6] = 0;
  require_decode_error(flat, "JPEG image is 333x0 pixels, need at least 1x1");
}

TEST_CASE("files: errors name the path; a batch skips bad files and records it", "[image]") {
  const std::string missing = data_path("preprocess/images/no_such_file.png");
  REQUIRE_THROWS_MATCHES(
      load_image(missing), Error,
      Catch::Predicate<Error>([&](const Error& e) { return e.path() == missing; },
                              "the error names the missing file"));
  // HPSv2 scales a 1000x2 image to 224x0: refused, naming the file.
  const std::string dir = std::filesystem::temp_directory_path() / "prefscore_test_image";
  std::filesystem::create_directories(dir);
  const std::string thin = dir + "/thin_1000x2.png";
  std::vector<uint8_t> encoded;
  cv::imencode(".png", cv::Mat(2, 1000, CV_8UC3, cv::Scalar(10, 20, 30)), encoded);
  write_file_atomic(thin, std::string(encoded.begin(), encoded.end()));
  PreprocessOptions hpsv2;
  hpsv2.pipeline = Pipeline::kHpsv2;
  REQUIRE_THROWS_WITH(preprocess_file(thin, hpsv2),
                      thin +
                          ": image is 1000x2: scaling its longest side to 224 gives 224x0 "
                          "pixels, need at least 1x1");

  const std::string good = data_path("preprocess/images/tiny_7x9.png");
  const PreprocessedBatch batch = preprocess_files({good, missing, thin, good}, hpsv2);
  REQUIRE(batch.files == std::vector<std::string>{good, good});
  REQUIRE(batch.skipped.size() == 2);
  REQUIRE_THAT(batch.skipped[1], Catch::StartsWith(thin + ": image is 1000x2"));
  const std::string out = dir + "/pixels.safetensors";
  write_pixel_values(out, batch, hpsv2);
  const SafetensorsFile written = SafetensorsFile::open(out);
  REQUIRE(written.at("pixel_values").shape == std::vector<int64_t>{2, 3, 224, 224});
  REQUIRE(written.metadata().at("pipeline") == "hpsv2");
  REQUIRE(written.metadata().at("files") == nlohmann::json({good, good}).dump());
  REQUIRE(nlohmann::json::parse(written.metadata().at("skipped")).size() == 2);
  const PixelValues want = preprocess_file(good, hpsv2);
  const std::vector<float> first =
      copy_values<float>(written.data(written.at("pixel_values")), want.chw.size());
  require_allclose(first.data(), want.chw.data(), want.chw.size(), 0.0, 0.0, "batch[0]");
  PreprocessedBatch empty;
  REQUIRE_THROWS_WITH(write_pixel_values(out, empty, hpsv2),
                      out + ": no image could be preprocessed (0 skipped); nothing written");
  std::filesystem::remove_all(dir);
}

}  // namespace
