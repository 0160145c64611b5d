// Preprocessing a list of files into one batch file (`prefscore preprocess`): a bad file is
// reported and skipped, the run goes on (../shared/STYLE.md section 3).
#include <nlohmann/json.hpp>

#include "prefscore/error.h"
#include "prefscore/image.h"
#include "prefscore/safetensors.h"

namespace prefscore {

PreprocessedBatch preprocess_files(const std::vector<std::string>& paths,
                                   const PreprocessOptions& options) {
  PreprocessedBatch batch;
  for (const std::string& path : paths) {
    try {
      batch.images.push_back(preprocess_file(path, options));
      batch.files.push_back(path);
    } catch (const Error& e) {
      batch.skipped.push_back(e.what());
    }
  }
  return batch;
}

void write_pixel_values(const std::string& path, const PreprocessedBatch& batch,
                        const PreprocessOptions& options) {
  if (batch.images.empty()) {
    throw Error(path, "no image could be preprocessed (" + std::to_string(batch.skipped.size()) +
                          " skipped); nothing written");
  }
  const PixelValues& first = batch.images.front();
  std::vector<float> values;
  values.reserve(first.chw.size() * batch.images.size());
  for (const PixelValues& image : batch.images) {
    values.insert(values.end(), image.chw.begin(), image.chw.end());
  }
  SafetensorsWriter writer;
  writer.add("pixel_values", DType::kF32,
             {static_cast<int64_t>(batch.images.size()), first.channels, first.height, first.width},
             values.data(), values.size() * sizeof(float));
  writer.set_metadata("pipeline", std::string(pipeline_name(options.pipeline)));
  writer.set_metadata("image_size", std::to_string(options.image_size));
  // File names need not be UTF-8; JSON must be: invalid bytes become U+FFFD.
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  writer.set_metadata("files", nlohmann::json(batch.files).dump(-1, ' ', false, kReplace));
  writer.set_metadata("skipped", nlohmann::json(batch.skipped).dump(-1, ' ', false, kReplace));
  writer.write(path);
}

}  // namespace prefscore
