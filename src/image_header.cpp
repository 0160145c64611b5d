// Image headers read without decoding pixels: format, size, the PIL mode Image.open would give
// (Pillow 9.4 PngImagePlugin._MODES, JpegImagePlugin.SOF, WebPImagePlugin, BmpImagePlugin) and
// the EXIF orientation. OpenCV 4.6 cannot report an image's size without decoding it, and the
// pixel limit must hold before any pixel is decoded.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "prefscore/error.h"
#include "prefscore/image.h"

namespace prefscore {
namespace {

uint32_t be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t be32(const uint8_t* p) { return (be16(p) << 16) | be16(p + 2); }
uint32_t le16(const uint8_t* p) { return (uint32_t{p[1]} << 8) | p[0]; }
uint32_t le24(const uint8_t* p) { return le16(p) | (uint32_t{p[2]} << 16); }
uint32_t le32(const uint8_t* p) { return le16(p) | (le16(p + 2) << 16); }

const uint8_t* data_of(std::string_view bytes) {
  return reinterpret_cast<const uint8_t*>(bytes.data());
}

bool starts_with(std::string_view bytes, std::string_view prefix) {
  return bytes.substr(0, prefix.size()) == prefix;
}

std::string hex_prefix(std::string_view bytes) {
  std::ostringstream out;
  const std::size_t n = std::min<std::size_t>(bytes.size(), 8);
  for (std::size_t i = 0; i < n; ++i) {
    static const char* kDigits = "0123456789abcdef";
    const uint8_t b = static_cast<uint8_t>(bytes[i]);
    out << (i ? " " : "") << kDigits[b >> 4] << kDigits[b & 15];
  }
  return out.str();
}

// EXIF orientation (tag 0x0112) from a TIFF structure; 1 when absent or malformed.
int tiff_orientation(std::string_view tiff) {
  if (tiff.size() < 8) return 1;
  const uint8_t* p = data_of(tiff);
  const bool little = tiff[0] == 'I' && tiff[1] == 'I';
  if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
  auto u16 = [&](std::size_t at) { return little ? le16(p + at) : be16(p + at); };
  auto u32 = [&](std::size_t at) { return little ? le32(p + at) : be32(p + at); };
  const std::size_t ifd = u32(4);
  if (ifd + 2 > tiff.size()) return 1;
  const std::size_t count = u16(ifd);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t entry = ifd + 2 + 12 * i;
    if (entry + 12 > tiff.size()) return 1;
    if (u16(entry) == 0x0112 && u16(entry + 2) == 3) {
      const int value = static_cast<int>(u16(entry + 8));
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

void check_size(const ImageHeader& header, const std::string& label) {
  if (header.width <= 0 || header.height <= 0) {
    throw Error(label, std::string(image_format_name(header.format)) + " image is " +
                           std::to_string(header.width) + "x" + std::to_string(header.height) +
                           " pixels, need at least 1x1");
  }
}

ImageHeader png_header(std::string_view bytes, const std::string& label) {
  ImageHeader header;
  header.format = ImageFormat::kPng;
  if (bytes.size() < 33 || bytes.substr(12, 4) != "IHDR") {
    throw Error(label, "truncated PNG: no complete IHDR chunk in the first 33 bytes (file has " +
                           std::to_string(bytes.size()) + " bytes)");
  }
  const uint8_t* p = data_of(bytes);
  header.width = static_cast<int>(std::min<uint32_t>(be32(p + 16), 0x7fffffff));
  header.height = static_cast<int>(std::min<uint32_t>(be32(p + 20), 0x7fffffff));
  const int depth = p[24];
  const int colour = p[25];
  struct ModeRule {
    int depth, colour;
    PilMode mode;
  };
  static const ModeRule kModes[] = {
      {1, 0, PilMode::k1},     {2, 0, PilMode::kL},    {4, 0, PilMode::kL},    {8, 0, PilMode::kL},
      {16, 0, PilMode::kI},    {8, 2, PilMode::kRGB},  {16, 2, PilMode::kRGB}, {1, 3, PilMode::kP},
      {2, 3, PilMode::kP},     {4, 3, PilMode::kP},    {8, 3, PilMode::kP},    {8, 4, PilMode::kLA},
      {16, 4, PilMode::kRGBA}, {8, 6, PilMode::kRGBA}, {16, 6, PilMode::kRGBA}};
  bool known = false;
  for (const ModeRule& rule : kModes) {
    if (rule.depth == depth && rule.colour == colour) {
      header.mode = rule.mode;
      known = true;
    }
  }
  if (!known) {
    throw Error(label, "unsupported PNG bit depth " + std::to_string(depth) + " with colour type " +
                           std::to_string(colour));
  }
  check_size(header, label);
  // Walk the chunks: a chunk cut short means a truncated file; eXIf may follow the pixel data.
  std::size_t at = 8;
  bool seen_idat = false;
  while (at + 8 <= bytes.size()) {
    const uint64_t length = be32(p + at);
    const std::string_view type = bytes.substr(at + 4, 4);
    if (at + 12 + length > bytes.size()) {
      if (!seen_idat || type == "IDAT") {
        throw Error(label, "truncated PNG: chunk '" + std::string(type) + "' at byte " +
                               std::to_string(at) + " needs " + std::to_string(12 + length) +
                               " bytes, the file ends after " + std::to_string(bytes.size() - at));
      }
      break;
    }
    if (type == "IDAT") seen_idat = true;
    if (type == "eXIf") header.exif_orientation = tiff_orientation(bytes.substr(at + 8, length));
    if (type == "IEND") break;
    at += 12 + length;
  }
  if (!seen_idat) throw Error(label, "truncated PNG: no IDAT chunk (no pixel data)");
  return header;
}

bool is_jpeg_sof(uint32_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

ImageHeader jpeg_header(std::string_view bytes, const std::string& label) {
  ImageHeader header;
  header.format = ImageFormat::kJpeg;
  const uint8_t* p = data_of(bytes);
  std::size_t at = 2;
  bool seen_sof = false;
  bool seen_exif = false;
  for (;;) {
    while (at < bytes.size() && p[at] != 0xFF) ++at;  // skip junk, as Pillow does
    while (at < bytes.size() && p[at] == 0xFF) ++at;  // fill bytes
    if (at >= bytes.size()) {
      throw Error(label, std::string("truncated JPEG: the file ends before the ") +
                             (seen_sof ? "start of scan" : "frame header (SOF)") + " (" +
                             std::to_string(bytes.size()) + " bytes)");
    }
    const uint32_t marker = p[at++];
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xD9) throw Error(label, "JPEG has no image: end of image before any scan");
    if (at + 2 > bytes.size()) throw Error(label, "truncated JPEG: segment length cut off");
    const std::size_t length = be16(p + at);
    if (length < 2 || at + length > bytes.size()) {
      throw Error(label, "truncated JPEG: segment 0xFF" + hex_prefix(bytes.substr(at - 1, 1)) +
                             " at byte " + std::to_string(at - 2) + " needs " +
                             std::to_string(length) + " bytes, the file ends after " +
                             std::to_string(bytes.size() - at));
    }
    const std::string_view segment = bytes.substr(at + 2, length - 2);
    if (marker == 0xE1 && !seen_exif && starts_with(segment, std::string_view("Exif\0\0", 6))) {
      seen_exif = true;
      header.exif_orientation = tiff_orientation(segment.substr(6));
    }
    if (is_jpeg_sof(marker)) {
      if (segment.size() < 6) throw Error(label, "truncated JPEG frame header (SOF)");
      const uint8_t* s = data_of(segment);
      if (s[0] != 8) {
        throw Error(label, "cannot handle " + std::to_string(s[0]) +
                               "-bit JPEG samples, expected 8-bit (as Pillow)");
      }
      header.height = static_cast<int>(be16(s + 1));
      header.width = static_cast<int>(be16(s + 3));
      const int components = s[5];
      if (components == 1) {
        header.mode = PilMode::kL;
      } else if (components == 3) {
        header.mode = PilMode::kRGB;
      } else if (components == 4) {
        header.mode = PilMode::kCMYK;
      } else {
        throw Error(label, "cannot handle a JPEG with " + std::to_string(components) +
                               " components, expected 1, 3 or 4");
      }
      seen_sof = true;
    }
    if (marker == 0xDA) {
      if (!seen_sof) throw Error(label, "JPEG scan before the frame header (SOF)");
      // Entropy-coded data cannot contain FF D9, so a complete file has it after the first scan.
      const std::string_view rest = bytes.substr(at);
      if (rest.find("\xFF\xD9") == std::string_view::npos) {
        throw Error(label, "truncated JPEG: no end-of-image marker (FF D9) after the scan data");
      }
      break;
    }
    at += length;
  }
  check_size(header, label);
  return header;
}

ImageHeader webp_header(std::string_view bytes, const std::string& label) {
  ImageHeader header;
  header.format = ImageFormat::kWebp;
  const uint8_t* p = data_of(bytes);
  const uint64_t riff_end = std::min<uint64_t>(uint64_t{le32(p + 4)} + 8, bytes.size());
  if (uint64_t{le32(p + 4)} + 8 > bytes.size()) {
    throw Error(label, "truncated WebP: the RIFF header declares " +
                           std::to_string(uint64_t{le32(p + 4)} + 8) + " bytes, the file has " +
                           std::to_string(bytes.size()));
  }
  std::size_t at = 12;
  bool seen_image = false;
  while (at + 8 <= riff_end) {
    const std::string_view type = bytes.substr(at, 4);
    const uint64_t length = le32(p + at + 4);
    if (at + 8 + length > riff_end)
      throw Error(label, "truncated WebP chunk '" + std::string(type) + "'");
    const uint8_t* c = p + at + 8;
    if (type == "VP8X" && length >= 10) {
      if (c[0] & 0x02) throw Error(label, "animated WebP is not supported");
      header.mode = (c[0] & 0x10) ? PilMode::kRGBA : PilMode::kRGB;
      header.width = static_cast<int>(le24(c + 4) + 1);
      header.height = static_cast<int>(le24(c + 7) + 1);
      seen_image = true;
    } else if (type == "VP8 " && !seen_image && length >= 10) {
      if (c[3] != 0x9d || c[4] != 0x01 || c[5] != 0x2a) {
        throw Error(label, "WebP VP8 chunk without a key frame start code");
      }
      header.mode = PilMode::kRGB;
      header.width = static_cast<int>(le16(c + 6) & 0x3fff);
      header.height = static_cast<int>(le16(c + 8) & 0x3fff);
      seen_image = true;
    } else if (type == "VP8L" && !seen_image && length >= 5) {
      if (c[0] != 0x2f) throw Error(label, "WebP VP8L chunk without its signature byte 0x2f");
      const uint32_t bits = le32(c + 1);
      header.width = static_cast<int>((bits & 0x3fff) + 1);
      header.height = static_cast<int>(((bits >> 14) & 0x3fff) + 1);
      header.mode = ((bits >> 28) & 1) ? PilMode::kRGBA : PilMode::kRGB;
      seen_image = true;
    } else if (type == "EXIF") {
      std::string_view exif = bytes.substr(at + 8, length);
      if (starts_with(exif, std::string_view("Exif\0\0", 6))) exif.remove_prefix(6);
      header.exif_orientation = tiff_orientation(exif);
    }
    at += 8 + length + (length & 1);
  }
  if (!seen_image) throw Error(label, "WebP file has no VP8, VP8L or VP8X image chunk");
  check_size(header, label);
  return header;
}

ImageHeader bmp_header(std::string_view bytes, const std::string& label) {
  ImageHeader header;
  header.format = ImageFormat::kBmp;
  const uint8_t* p = data_of(bytes);
  if (bytes.size() < 26) throw Error(label, "truncated BMP header");
  const uint32_t dib_size = le32(p + 14);
  int bpp = 0;
  uint32_t compression = 0;
  uint32_t colours = 0;
  std::size_t palette_at = 14 + dib_size;
  int entry_size = 4;
  if (dib_size == 12) {
    header.width = static_cast<int>(le16(p + 18));
    header.height = static_cast<int>(le16(p + 20));
    bpp = static_cast<int>(le16(p + 24));
    entry_size = 3;
  } else if (dib_size >= 40 && bytes.size() >= 54) {
    header.width = static_cast<int32_t>(le32(p + 18));
    // Negative heights mark top-down rows; widened first so that -2^31 has an absolute value.
    header.height = static_cast<int>(
        std::min<int64_t>(std::llabs(static_cast<int32_t>(le32(p + 22))), 0x7fffffff));
    bpp = static_cast<int>(le16(p + 28));
    compression = le32(p + 30);
    colours = le32(p + 46);
  } else {
    throw Error(label, "unsupported BMP header of " + std::to_string(dib_size) + " bytes");
  }
  if (compression > 2) {
    throw Error(label, "unsupported BMP compression " + std::to_string(compression) +
                           ", expected 0 (none), 1 (RLE8) or 2 (RLE4)");
  }
  if (bpp == 24 || bpp == 32) {
    header.mode = PilMode::kRGB;  // Pillow reads BI_RGB 32-bit as BGRX: no alpha
  } else if (bpp == 1 || bpp == 4 || bpp == 8) {
    // BmpImagePlugin: a palette equal to (i, i, i) is read as "L" (two entries 0, 255: "1").
    if (colours == 0 || colours > (1u << bpp)) colours = 1u << bpp;
    if (palette_at + std::size_t{colours} * entry_size > bytes.size()) {
      throw Error(label, "truncated BMP palette");
    }
    bool grey = true;
    for (uint32_t i = 0; i < colours && grey; ++i) {
      const uint8_t want = colours == 2 ? static_cast<uint8_t>(i * 255) : static_cast<uint8_t>(i);
      const uint8_t* e = p + palette_at + i * entry_size;
      grey = e[0] == want && e[1] == want && e[2] == want;
    }
    header.mode = !grey ? PilMode::kP : (colours == 2 ? PilMode::k1 : PilMode::kL);
  } else {
    throw Error(label, "unsupported BMP with " + std::to_string(bpp) +
                           " bits per pixel, expected 1, 4, 8, 24 or 32");
  }
  check_size(header, label);
  if (compression == 0) {  // uncompressed rows are padded to 4 bytes
    const uint64_t row_bytes = (uint64_t{static_cast<uint32_t>(bpp)} * header.width + 31) / 32 * 4;
    const uint64_t needed = uint64_t{le32(p + 10)} + row_bytes * header.height;
    if (needed > bytes.size()) {
      throw Error(label, "truncated BMP: " + std::to_string(header.width) + "x" +
                             std::to_string(header.height) + " pixels need " +
                             std::to_string(needed) + " bytes, the file has " +
                             std::to_string(bytes.size()));
    }
  }
  return header;
}

}  // namespace

std::string_view image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kBmp:
      return "BMP";
  }
  return "?";
}

ImageHeader read_image_header(std::string_view bytes, const std::string& label) {
  if (bytes.empty()) throw Error(label, "file is empty (0 bytes), expected an image");
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return png_header(bytes, label);
  if (starts_with(bytes, "\xFF\xD8\xFF")) return jpeg_header(bytes, label);
  if (bytes.size() >= 16 && starts_with(bytes, "RIFF") && bytes.substr(8, 4) == "WEBP") {
    return webp_header(bytes, label);
  }
  if (starts_with(bytes, "BM")) return bmp_header(bytes, label);
  if (starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a")) {
    throw Error(label, "GIF is not supported (OpenCV 4.6 cannot decode it); convert it to PNG");
  }
  if (starts_with(bytes, std::string_view("II*\0", 4)) ||
      starts_with(bytes, std::string_view("MM\0*", 4))) {
    throw Error(label, "TIFF is not supported; convert it to PNG");
  }
  throw Error(label, "not an image: expected a PNG, JPEG, WebP or BMP file, first bytes are " +
                         hex_prefix(bytes));
}

}  // namespace prefscore
