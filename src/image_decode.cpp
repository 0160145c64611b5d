// Decoding to the pixels Pillow 9.4's Image.open gives. OpenCV decodes; the header
// (image_header.cpp) says which PIL mode to reproduce, which decides the imdecode flags:
//   "1", "L"       IMREAD_GRAYSCALE (1/2/4-bit gray expands to 0..255 like Pillow's L;2, L;4)
//   "I"            IMREAD_ANYDEPTH, gray: the 16-bit values (Pillow keeps them in int32)
//   "RGB", "P"     IMREAD_COLOR: palette expanded, 16-bit RGB truncated to the high byte (as
//                  Pillow's RGB;16B), tRNS ignored (Pillow keeps it out of the pixels)
//   "LA", "RGBA"   IMREAD_UNCHANGED (BGRA; 16-bit reduced to the high byte as RGBA;16B, LA;16B)
//   "CMYK"         libjpeg directly (OpenCV converts CMYK to BGR with its own rounding); Pillow
//                  reads JPEG CMYK as Adobe-inverted ("CMYK;I"). Built without libjpeg
//                  (PREFSCORE_HAVE_LIBJPEG undefined), CMYK JPEGs come out of OpenCV as "RGB".
// IMREAD_IGNORE_ORIENTATION everywhere: Image.open does not apply EXIF orientation.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <utility>

#include "image_internal.h"
#include "prefscore/error.h"
#include "prefscore/image.h"
#include "prefscore/io.h"

#if defined(PREFSCORE_HAVE_LIBJPEG)
#include <csetjmp>
#include <cstdio>
// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>
#endif

namespace prefscore {
namespace {

#if defined(PREFSCORE_HAVE_LIBJPEG)
struct JpegErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void jpeg_error_to_longjmp(j_common_ptr cinfo) {
  auto* manager = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, manager->message);
  std::longjmp(manager->jump, 1);
}

// Warnings (e.g. corrupt data) are not printed; Pillow does not print them either.
extern "C" void jpeg_silent_message(j_common_ptr) {}

// CMYK JPEG as Pillow's JpegDecode with rawmode "CMYK;I": libjpeg's CMYK output, inverted.
PilImage decode_cmyk_jpeg(std::string_view bytes, const ImageHeader& header,
                          const std::string& label) {
  // Everything that lives across setjmp is allocated before it.
  PilImage image = make_image(PilMode::kCMYK, header.width, header.height, /*bands=*/4);
  uint8_t* pixels = image.pixels_u8.data();
  jpeg_decompress_struct cinfo;
  JpegErrorManager errors;
  cinfo.err = jpeg_std_error(&errors.pub);
  errors.pub.error_exit = jpeg_error_to_longjmp;
  errors.pub.output_message = jpeg_silent_message;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw Error(label, std::string("cannot decode the JPEG (CMYK) data: ") + errors.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_CMYK;
  jpeg_start_decompress(&cinfo);
  if (static_cast<int>(cinfo.output_width) != header.width ||
      static_cast<int>(cinfo.output_height) != header.height || cinfo.output_components != 4) {
    jpeg_destroy_decompress(&cinfo);
    throw Error(label, "libjpeg decodes a different size or component count than the header says");
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels + static_cast<std::size_t>(cinfo.output_scanline) * header.width * 4;
    jpeg_read_scanlines(&cinfo, &row, /*max_lines=*/1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  for (uint8_t& value : image.pixels_u8) value = static_cast<uint8_t>(255 - value);
  return image;
}
#endif

// Lets cv::imdecode write straight into a PilImage's buffer: the allocation of exactly its size
// gets it; any other goes to OpenCV's allocator. (A Mat pre-sized on the buffer would not do: when
// OpenCV fails while reading the header it leaves its output untouched, so the failure would go
// unnoticed. This way a failed decode leaves the Mat empty.)
class BufferAllocator : public cv::MatAllocator {
 public:
  BufferAllocator(uint8_t* data, std::size_t bytes) : data_(data), bytes_(bytes) {}

  cv::UMatData* allocate(int dims, const int* sizes, int type, void* data0, size_t* step,
                         cv::AccessFlag flags, cv::UMatUsageFlags usage) const override {
    std::size_t total = CV_ELEM_SIZE(type);
    for (int i = 0; i < dims; ++i) total *= sizes[i];
    if (data0 != nullptr || total != bytes_ || used_) {
      return cv::Mat::getStdAllocator()->allocate(dims, sizes, type, data0, step, flags, usage);
    }
    std::size_t stride = CV_ELEM_SIZE(type);
    for (int i = dims - 1; i >= 0; --i) {
      if (step != nullptr) step[i] = stride;
      stride *= sizes[i];
    }
    used_ = true;
    auto* u = new cv::UMatData(this);
    u->data = u->origdata = data_;
    u->size = total;
    u->flags |= cv::UMatData::USER_ALLOCATED;
    return u;
  }
  bool allocate(cv::UMatData* u, cv::AccessFlag, cv::UMatUsageFlags) const override {
    return u != nullptr;
  }
  void deallocate(cv::UMatData* u) const override { delete u; }

 private:
  uint8_t* data_;
  std::size_t bytes_;
  mutable bool used_ = false;
};

PilImage decode_with_opencv(std::string_view bytes, const ImageHeader& header,
                            const std::string& label) {
  int flags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
  int want_type = CV_8UC3;
  switch (header.mode) {
    case PilMode::k1:
    case PilMode::kL:
      flags = cv::IMREAD_GRAYSCALE | cv::IMREAD_IGNORE_ORIENTATION;
      want_type = CV_8UC1;
      break;
    case PilMode::kI:
      flags = cv::IMREAD_ANYDEPTH | cv::IMREAD_IGNORE_ORIENTATION;
      want_type = CV_16UC1;
      break;
    case PilMode::kLA:
    case PilMode::kRGBA:
      flags = cv::IMREAD_UNCHANGED;  // never applies orientation
      want_type = CV_8UC4;
      break;
    default:
      break;
  }
  const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  // Where OpenCV's output is already the PIL layout (up to the channel order), it decodes straight
  // into the result: one allocation per image.
  const bool direct = header.mode != PilMode::kI && header.mode != PilMode::kLA;
  PilImage image;
  if (direct) image = make_image(header.mode, header.width, header.height, CV_MAT_CN(want_type));
  BufferAllocator allocator(image.pixels_u8.data(), image.pixels_u8.size());
  cv::Mat mat;
  if (direct) mat.allocator = &allocator;
  try {
    cv::imdecode(buffer, flags, &mat);
  } catch (const cv::Exception& e) {  // e.g. OpenCV's own size limit (CV_IO_MAX_IMAGE_PIXELS)
    throw Error(label, "OpenCV cannot decode the " + std::string(image_format_name(header.format)) +
                           " data: " + e.err);
  }
  const std::string format(image_format_name(header.format));
  if (mat.empty()) {
    throw Error(label, "cannot decode the " + format + " pixel data (corrupt or truncated file)");
  }
  if (mat.type() == CV_16UC4 && want_type == CV_8UC4) {
    cv::Mat high_bytes(mat.rows, mat.cols, CV_8UC4);  // Pillow's RGBA;16B keeps the high byte
    for (int y = 0; y < mat.rows; ++y) {
      const uint16_t* row = mat.ptr<uint16_t>(y);
      uint8_t* out = high_bytes.ptr<uint8_t>(y);
      for (int i = 0; i < mat.cols * 4; ++i) out[i] = static_cast<uint8_t>(row[i] >> 8);
    }
    mat = high_bytes;
  }
  if (mat.type() != want_type || mat.cols != header.width || mat.rows != header.height) {
    throw Error(label, format + " decoded to " + std::to_string(mat.cols) + "x" +
                           std::to_string(mat.rows) + " with " + std::to_string(mat.channels()) +
                           " channels, the header says " + std::to_string(header.width) + "x" +
                           std::to_string(header.height) + " mode " +
                           std::string(pil_mode_name(header.mode)));
  }
  const int width = header.width;
  const int height = header.height;
  switch (header.mode) {
    case PilMode::kI: {
      PilImage gray = make_image(PilMode::kI, width, height, /*bands=*/1);
      for (int y = 0; y < height; ++y) {
        const uint16_t* row = mat.ptr<uint16_t>(y);
        std::copy(row, row + width, gray.pixels_i32.begin() + static_cast<std::size_t>(y) * width);
      }
      return gray;
    }
    case PilMode::kLA: {
      PilImage gray_alpha = make_image(PilMode::kLA, width, height, /*bands=*/2);
      for (int y = 0; y < height; ++y) {
        const uint8_t* row = mat.ptr<uint8_t>(y);
        uint8_t* out = gray_alpha.pixels_u8.data() + static_cast<std::size_t>(y) * width * 2;
        for (int x = 0; x < width; ++x) {
          out[2 * x] = row[4 * x];  // gray expanded to B = G = R
          out[2 * x + 1] = row[4 * x + 3];
        }
      }
      return gray_alpha;
    }
    default:
      break;
  }
  if (mat.data != image.pixels_u8.data()) {  // decoded elsewhere (16-bit RGBA, reduced above)
    mat.copyTo(cv::Mat(height, width, mat.type(), image.pixels_u8.data()));
  }
  // BGR(A) -> RGB(A) in place (cv::cvtColor would copy the whole image first).
  const int bands = image.bands;
  if (bands >= 3) {
    uint8_t* pixel = image.pixels_u8.data();
    uint8_t* const end = pixel + image.pixels_u8.size();
    for (; pixel != end; pixel += bands) std::swap(pixel[0], pixel[2]);
  }
  return image;
}

}  // namespace

bool cmyk_jpeg_matches_pil() {
#if defined(PREFSCORE_HAVE_LIBJPEG)
  return true;
#else
  return false;
#endif
}

PilImage decode_image(std::string_view bytes, const std::string& label,
                      const DecodeOptions& options) {
  const ImageHeader header = read_image_header(bytes, label);
  const uint64_t pixels = static_cast<uint64_t>(header.width) * header.height;
  if (pixels > options.max_pixels) {
    throw Error(label, "image is " + std::to_string(header.width) + "x" +
                           std::to_string(header.height) + " = " + std::to_string(pixels) +
                           " pixels, more than the limit of " + std::to_string(options.max_pixels) +
                           " (raise it with --max-pixels)");
  }
  PilImage image;
#if defined(PREFSCORE_HAVE_LIBJPEG)
  if (header.mode == PilMode::kCMYK) {
    image = decode_cmyk_jpeg(bytes, header, label);
  } else {
    image = decode_with_opencv(bytes, header, label);
  }
#else
  if (header.mode == PilMode::kCMYK) {
    ImageHeader as_rgb = header;  // OpenCV's CMYK->BGR: up to 2 levels from Pillow after resize
    as_rgb.mode = PilMode::kRGB;
    image = decode_with_opencv(bytes, as_rgb, label);
  } else {
    image = decode_with_opencv(bytes, header, label);
  }
#endif
  if (options.exif_transpose && header.exif_orientation != 1) {
    image = apply_exif_orientation(image, header.exif_orientation);
  }
  return image;
}

PilImage load_image(const std::string& path, const DecodeOptions& options) {
  return decode_image(read_file(path), path, options);
}

}  // namespace prefscore
