// Image decoding and the three CLIP preprocessing pipelines, reproducing the official Python code
// pixel for pixel:
//   openclip  open_clip.transform.image_transform(224, is_train=False) (torchvision 0.14 on PIL):
//             Resize(224, BICUBIC) in the image's own PIL mode, CenterCrop(224) with
//             round((h-224)/2) (Python half-to-even), convert("RGB"), ToTensor, Normalize.
//   hf        transformers 4.39 CLIPImageProcessor: convert("RGB") first, the same PIL resize,
//             center crop with (h-224)//2, rescale 1/255, normalize.
//   hpsv2     HPSv2 hpsv2/src/open_clip/transform.py (commit 866735e) preprocess_val with
//             resize_longest_max=True: convert("RGB"), ToTensor, ResizeMaxSize(224) = torchvision
//             0.14 tensor bicubic (a = -0.75, no antialias) of the longest side to 224 and black
//             letterbox padding, then normalize.
// The resize is a port of Pillow 9.4 libImaging/Resample.c (see src/pil_resample.h); the decoder
// reproduces what Pillow's Image.open gives (mode, values, no EXIF rotation).
// Exactness and tolerances: tests/data/preprocess/README.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace prefscore {

// The PIL modes Image.open produces for the supported files (Pillow 9.4 PngImagePlugin,
// JpegImagePlugin, WebPImagePlugin, BmpImagePlugin).
enum class PilMode { k1, kL, kLA, kP, kI, kRGB, kRGBA, kCMYK };
// "1", "L", "LA", "P", "I", "RGB", "RGBA", "CMYK".
std::string_view pil_mode_name(PilMode mode);

enum class ImageFormat { kPng, kJpeg, kWebp, kBmp };
std::string_view image_format_name(ImageFormat format);

// What the file header says, read without decoding pixels.
struct ImageHeader {
  ImageFormat format = ImageFormat::kPng;
  int width = 0;
  int height = 0;
  PilMode mode = PilMode::kRGB;
  int exif_orientation = 1;  // EXIF tag 0x0112, 1..8; 1 when absent
};

// Parses the header of a PNG, JPEG, WebP or BMP file. Throws Error(label, reason) for an empty,
// truncated or non-image input, an unsupported format (GIF, TIFF, ...) or a zero size.
ImageHeader read_image_header(std::string_view bytes, const std::string& label);

struct DecodeOptions {
  // Images with more pixels are refused before their pixels are decoded (decompression bombs).
  uint64_t max_pixels = 100'000'000;
  // Apply the EXIF orientation like PIL.ImageOps.exif_transpose. The official pipelines do not.
  bool exif_transpose = false;
};

// An image as Pillow holds it after Image.open: its mode and its bands, interleaved, row-major.
// Mode "P" is kept expanded through its palette to 3 bands (every operation the pipelines apply to
// "P", nearest resize, crop and convert("RGB"), commutes with the palette lookup); "1" is stored as
// bytes 0/255; "LA" has bands L, A; "I" (16-bit grayscale PNG) has one int32 band in pixels_i32.
struct PilImage {
  PilMode mode = PilMode::kRGB;
  int width = 0;
  int height = 0;
  int bands = 3;
  std::vector<uint8_t> pixels_u8;   // width * height * bands, every mode but "I"
  std::vector<int32_t> pixels_i32;  // width * height, mode "I" only
};

// Decodes with OpenCV (CMYK JPEGs with libjpeg where built in). Throws Error(label, reason).
PilImage decode_image(std::string_view bytes, const std::string& label,
                      const DecodeOptions& options = {});
// Reads and decodes a file; errors name the path.
PilImage load_image(const std::string& path, const DecodeOptions& options = {});

// True when this build decodes CMYK JPEGs through libjpeg as Pillow does (exact); otherwise they go
// through OpenCV's CMYK->BGR conversion, which differs from Pillow's by up to 2 levels after
// resize.
bool cmyk_jpeg_matches_pil();

// Image.convert("RGB") of Pillow 9.4 (libImaging/Convert.c): "I" clips to [0, 255], alpha is
// dropped (stored colours kept), CMYK uses Pillow's naive formula.
PilImage convert_to_rgb(const PilImage& image);
// Image.crop((left, top, left + width, top + height)) of a region inside the image.
PilImage crop_image(const PilImage& image, int left, int top, int width, int height);
// PIL.ImageOps.exif_transpose for orientation 1..8.
PilImage apply_exif_orientation(const PilImage& image, int orientation);

// Image.resize((width, height), Image.BICUBIC) of Pillow 9.4, with its mode rules: "1" and "P" are
// resized nearest-neighbour, "LA" and "RGBA" premultiplied by alpha, "I" in double precision.
PilImage pil_resize_bicubic(const PilImage& image, int width, int height);

struct ImageSize {
  int width = 0;
  int height = 0;
  bool operator==(const ImageSize& other) const {
    return width == other.width && height == other.height;
  }
};
// torchvision Resize(int) and transformers get_resize_output_image_size: the short side becomes
// `shortest`, the long side int(shortest * long / short) (truncated). Throws Error("", ...) when
// that exceeds INT_MAX (Pillow cannot resize to it either).
ImageSize shortest_side_size(int width, int height, int shortest);
// HPSv2 ResizeMaxSize: scale = longest / max(w, h); each side round(side * scale), Python rounding
// (half to even).
ImageSize longest_side_size(int width, int height, int longest);
// torchvision center_crop: int(round((size - crop) / 2.0)), Python rounding (half to even).
int center_crop_offset_torchvision(int size, int crop);
// transformers center_crop: (size - crop) // 2.
int center_crop_offset_floor(int size, int crop);

enum class Pipeline { kOpenClip, kHf, kHpsv2 };
std::string_view pipeline_name(Pipeline pipeline);  // "openclip", "hf", "hpsv2"
// Returns false for an unknown name.
bool parse_pipeline(std::string_view name, Pipeline* pipeline);

struct PreprocessOptions {
  Pipeline pipeline = Pipeline::kOpenClip;
  int image_size = 224;  // output height and width, pixels
  DecodeOptions decode;
};

// Normalized pixels, channel-major [channels, height, width], float32.
struct PixelValues {
  std::vector<float> chw;
  int channels = 0;
  int height = 0;
  int width = 0;
};

// openclip and hf only: the uint8 RGB image_size x image_size crop that ToTensor sees.
PilImage resize_and_crop(const PilImage& image, Pipeline pipeline, int image_size);
// ToTensor + Normalize with the CLIP mean/std in float32: ((x / 255) - mean) / std.
PixelValues normalize_clip(const PilImage& rgb);
// The HPSv2 letterbox on convert("RGB") of `image`, normalized. An image whose longest side is
// already `image_size` is not resized (as in HPSv2); unlike HPSv2, which then returns a
// non-square tensor, it is padded to image_size x image_size like every other image.
PixelValues letterbox_hpsv2(const PilImage& image, int image_size);

// The whole pipeline for one decoded image.
PixelValues preprocess_image(const PilImage& image, const PreprocessOptions& options);
// load_image + preprocess_image; errors name the path.
PixelValues preprocess_file(const std::string& path, const PreprocessOptions& options);
// preprocess_image writing straight into `chw`, 3 * image_size * image_size floats (e.g. a row of
// a preallocated batch tensor), the same values. Errors name `path`.
void preprocess_image_into(const PilImage& image, const PreprocessOptions& options,
                           const std::string& path, float* chw);

// A batch of files; a file that fails is reported and skipped, the others are kept in order.
struct PreprocessedBatch {
  std::vector<std::string> files;    // preprocessed, in input order
  std::vector<PixelValues> images;   // one per entry of `files`
  std::vector<std::string> skipped;  // "path: reason" (Error::what()) of each skipped file
};
PreprocessedBatch preprocess_files(const std::vector<std::string>& paths,
                                   const PreprocessOptions& options);
// Writes `pixel_values` [N, 3, S, S] float32 atomically, with metadata "pipeline", "image_size",
// "files" (JSON array, the N files in order) and "skipped" (JSON array of messages). Throws
// Error(path, ...) when the batch is empty (nothing is written then).
void write_pixel_values(const std::string& path, const PreprocessedBatch& batch,
                        const PreprocessOptions& options);

}  // namespace prefscore
