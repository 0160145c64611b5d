#include "prefscore/heatmap_io.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/safetensors.h"

namespace prefscore {
namespace {

void check_size(const std::string& path, const Heatmap& map) {
  if (map.width < 1 || map.height < 1 ||
      map.values.size() !=
          static_cast<std::size_t>(map.width) * static_cast<std::size_t>(map.height)) {
    throw Error(path, "heatmap of " + std::to_string(map.width) + "x" + std::to_string(map.height) +
                          " pixels holds " + std::to_string(map.values.size()) + " values");
  }
}

uint8_t to_byte(float v) {
  const float clamped = std::min(1.0f, std::max(0.0f, v));
  return static_cast<uint8_t>(std::lround(255.0f * clamped));
}

cv::Mat gray_bytes(const Heatmap& map) {
  cv::Mat gray(map.height, map.width, CV_8UC1);
  for (int r = 0; r < map.height; ++r) {
    uint8_t* row = gray.ptr<uint8_t>(r);
    for (int c = 0; c < map.width; ++c) {
      row[c] = to_byte(map.values[static_cast<std::size_t>(r) * map.width + c]);
    }
  }
  return gray;
}

std::string png_bytes(const std::string& label, const cv::Mat& mat) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", mat, bytes)) throw Error(label, "PNG encoding failed");
  return std::string(bytes.begin(), bytes.end());
}

void write_png(const std::string& path, const cv::Mat& mat) {
  write_file_atomic(path, png_bytes(path, mat));
}

}  // namespace

void write_heatmap_safetensors(const std::string& path, const Heatmap& map,
                               const std::map<std::string, std::string>& metadata) {
  check_size(path, map);
  SafetensorsWriter writer;
  writer.add("heatmap", DType::kF32, {map.height, map.width}, map.values.data(),
             map.values.size() * sizeof(float));
  for (const auto& [key, value] : metadata) writer.set_metadata(key, value);
  writer.write(path);
}

Heatmap read_heatmap_safetensors(const std::string& path, const std::string& tensor) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  const TensorInfo* info = file.find(tensor);
  if (info == nullptr) throw Error(path, "no tensor named '" + tensor + "'");
  if (info->dtype != DType::kF32 || info->shape.size() != 2 || info->shape[0] < 1 ||
      info->shape[1] < 1) {
    throw Error(path, "tensor '" + tensor + "' must be F32 [height, width], got " +
                          std::string(dtype_name(info->dtype)) + " " + format_shape(info->shape));
  }
  Heatmap map;
  map.height = static_cast<int>(info->shape[0]);
  map.width = static_cast<int>(info->shape[1]);
  map.values.resize(static_cast<std::size_t>(info->numel()));
  // The data section is not guaranteed to be float-aligned: copy bytes.
  std::memcpy(map.values.data(), file.data(*info), map.values.size() * sizeof(float));
  return map;
}

void write_heatmap_png(const std::string& path, const Heatmap& map) {
  check_size(path, map);
  write_png(path, gray_bytes(map));
}

void write_heatmap_overlay_png(const std::string& path, const PilImage& image, const Heatmap& map) {
  write_file_atomic(path, heatmap_overlay_png(image, map, path));
}

std::string heatmap_overlay_png(const PilImage& image, const Heatmap& map,
                                const std::string& path) {
  check_size(path, map);
  if (image.width != map.width || image.height != map.height) {
    throw Error(path, "heatmap is " + std::to_string(map.width) + "x" + std::to_string(map.height) +
                          " pixels, the image " + std::to_string(image.width) + "x" +
                          std::to_string(image.height));
  }
  const PilImage rgb = image.mode == PilMode::kRGB ? image : convert_to_rgb(image);
  cv::Mat colours;
  cv::applyColorMap(gray_bytes(map), colours, cv::COLORMAP_JET);  // BGR
  cv::Mat out(map.height, map.width, CV_8UC3);
  for (int r = 0; r < map.height; ++r) {
    const uint8_t* jet = colours.ptr<uint8_t>(r);
    const uint8_t* src = rgb.pixels_u8.data() + static_cast<std::size_t>(r) * rgb.width * 3;
    uint8_t* dst = out.ptr<uint8_t>(r);
    for (int c = 0; c < map.width; ++c) {
      for (int k = 0; k < 3; ++k) {
        // OpenCV writes BGR: channel k of the output is RGB channel 2 - k of the image.
        const int blended = (src[3 * c + 2 - k] + jet[3 * c + k] + 1) / 2;
        dst[3 * c + k] = static_cast<uint8_t>(blended);
      }
    }
  }
  return png_bytes(path, out);
}

std::string encode_png_rgb(const PilImage& image, const std::string& label) {
  const PilImage rgb = image.mode == PilMode::kRGB ? image : convert_to_rgb(image);
  cv::Mat bgr(rgb.height, rgb.width, CV_8UC3);
  for (int r = 0; r < rgb.height; ++r) {
    const uint8_t* src = rgb.pixels_u8.data() + static_cast<std::size_t>(r) * rgb.width * 3;
    uint8_t* dst = bgr.ptr<uint8_t>(r);
    for (int c = 0; c < rgb.width; ++c) {
      for (int k = 0; k < 3; ++k) dst[3 * c + k] = src[3 * c + 2 - k];
    }
  }
  return png_bytes(label, bgr);
}

}  // namespace prefscore
