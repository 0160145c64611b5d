// Image preprocessing time per image on one thread, for 512x512 and 1024x1024 JPEGs generated
// here with OpenCV (quality 90): JPEG decoding alone, then the whole pipeline (decode, resize,
// crop or letterbox, normalize) for openclip, hf and hpsv2. Median of 200-400 runs.
//
//   bench_preprocess [--save-jpegs DIR]
//
// The Python reference on the same files: with --save-jpegs, time Pillow 9.4 + torch 1.13 running
// the reference functions of scripts/make_preprocess_test_data.py (openclip_u8 + normalize is
// open_clip's eval transform: PIL decode, Resize(224, BICUBIC), CenterCrop, ToTensor, Normalize):
//   /usr/bin/python3 -c 'import io,sys,time; sys.path.insert(0,"tests/data/preprocess")
//   from make_preprocess_test_data import *; b=open(sys.argv[1],"rb").read(); t=time.perf_counter()
//   for _ in range(100): normalize(openclip_u8(Image.open(io.BytesIO(b)), 224)[0])
//   print((time.perf_counter()-t)*10, "ms")' DIR/bench_1024.jpg
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "prefscore/image.h"

namespace {

using Clock = std::chrono::steady_clock;

// A photo-like test image: smooth colour fields with edges and fine noise, so that the JPEG has
// realistic entropy.
std::string make_jpeg(int size) {
  cv::RNG rng(/*state=*/1234);
  cv::Mat coarse(8, 8, CV_8UC3);
  rng.fill(coarse, cv::RNG::UNIFORM, 0, 256);
  cv::Mat image;
  cv::resize(coarse, image, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
  for (int i = 0; i < 40; ++i) {
    const cv::Point center(rng.uniform(0, size), rng.uniform(0, size));
    cv::circle(image, center, rng.uniform(size / 40, size / 6),
               cv::Scalar(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256)),
               /*thickness=*/-1, cv::LINE_AA);
  }
  cv::Mat noise(image.size(), CV_8UC3);
  rng.fill(noise, cv::RNG::NORMAL, 0, 6);
  cv::add(image, noise, image);
  std::vector<uint8_t> encoded;
  cv::imencode(".jpg", image, encoded, {cv::IMWRITE_JPEG_QUALITY, 90});
  return std::string(encoded.begin(), encoded.end());
}

// Median milliseconds of `runs` calls of `work`, after 3 warm-up calls.
template <typename Work>
double median_ms(int runs, Work work) {
  for (int i = 0; i < 3; ++i) work();
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const Clock::time_point start = Clock::now();
    work();
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  cv::setNumThreads(1);
  std::string save_dir;
  if (argc == 3 && std::strcmp(argv[1], "--save-jpegs") == 0) save_dir = argv[2];
  std::printf("%-6s %-10s %10s\n", "size", "stage", "ms/image");
  for (const int size : {512, 1024}) {
    const std::string jpeg = make_jpeg(size);
    if (!save_dir.empty()) {
      std::ofstream(save_dir + "/bench_" + std::to_string(size) + ".jpg", std::ios::binary) << jpeg;
    }
    const int runs = size == 512 ? 400 : 200;
    volatile float sink = 0;
    const double decode = median_ms(
        runs, [&] { sink = sink + prefscore::decode_image(jpeg, "bench.jpg").pixels_u8[0]; });
    std::printf("%-6d %-10s %10.3f\n", size, "decode", decode);
    for (const prefscore::Pipeline pipeline :
         {prefscore::Pipeline::kOpenClip, prefscore::Pipeline::kHf, prefscore::Pipeline::kHpsv2}) {
      prefscore::PreprocessOptions options;
      options.pipeline = pipeline;
      const double total = median_ms(runs, [&] {
        const prefscore::PilImage image = prefscore::decode_image(jpeg, "bench.jpg");
        sink = sink + prefscore::preprocess_image(image, options).chw[0];
      });
      std::printf("%-6d %-10s %10.3f   (resize+crop+normalize %.3f)\n", size,
                  std::string(prefscore::pipeline_name(pipeline)).c_str(), total, total - decode);
    }
  }
  return 0;
}
