#include "prefscore/image_embeddings.h"

#include <torch/torch.h>

#include <algorithm>
#include <optional>

#include "prefscore/embedding_cache.h"
#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/sha256.h"

namespace prefscore {

ImageEmbeddings embed_image_files(const Scorer& scorer, const std::vector<std::string>& files,
                                  const ImageEmbeddingOptions& options) {
  torch::InferenceMode inference;
  ImageEmbeddings out;
  const PreprocessOptions& preprocess = scorer.preprocess_options();
  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch_size));
  const int64_t size = preprocess.image_size;
  std::optional<EmbeddingKey> key;
  if (options.cache != nullptr) key = options.cache->key_for(scorer);
  at::Tensor buffer = torch::empty({static_cast<int64_t>(batch), 3, size, size}, torch::kFloat32);
  std::vector<float> values;
  std::size_t dims = 0;
  for (std::size_t start = 0; start < files.size(); start += batch) {
    const std::size_t end = std::min(files.size(), start + batch);
    struct Slot {
      std::string file, sha256;
      std::optional<ImageFeatures> cached;
      int64_t row = -1;  // row of the batch buffer when it goes through the tower
    };
    std::vector<Slot> slots;
    int64_t rows = 0;
    for (std::size_t i = start; i < end; ++i) {
      Slot slot{files[i], "", std::nullopt, -1};
      try {
        const std::string bytes = read_file(files[i]);
        if (key) {
          slot.sha256 = sha256_hex(bytes);
          std::string warning;
          slot.cached = options.cache->load(*key, slot.sha256, &warning);
          if (!warning.empty()) out.warnings.push_back(warning);
        }
        if (!slot.cached) {
          const PilImage image = decode_image(bytes, files[i], preprocess.decode);
          preprocess_image_into(image, preprocess, files[i],
                                buffer.data_ptr<float>() + rows * 3 * size * size);
          slot.row = rows++;
        }
        slots.push_back(std::move(slot));
      } catch (const Error& e) {
        out.skipped.push_back(e.what());
      }
    }
    ImageFeatures computed;
    if (rows > 0) {
      computed = scorer.encode_images(buffer.slice(0, 0, rows));
      out.images_encoded += static_cast<std::size_t>(rows);
    }
    for (Slot& slot : slots) {
      at::Tensor embeds;
      if (slot.cached) {
        embeds = slot.cached->embeds;
        ++out.cache_hits;
      } else {
        const ImageFeatures row{computed.embeds.slice(0, slot.row, slot.row + 1),
                                computed.tokens.defined()
                                    ? computed.tokens.slice(0, slot.row, slot.row + 1)
                                    : at::Tensor()};
        embeds = row.embeds;
        if (key) {
          try {
            options.cache->store(*key, slot.sha256, row);
          } catch (const Error& e) {  // a full disk or a read-only cache: embedding goes on
            out.warnings.push_back(std::string(e.what()) + "; not cached");
          }
        }
      }
      const at::Tensor flat = embeds.to(torch::kCPU, torch::kFloat32).contiguous().view({-1});
      if (dims == 0) dims = static_cast<std::size_t>(flat.numel());
      const float* p = flat.data_ptr<float>();
      values.insert(values.end(), p, p + flat.numel());
      out.files.push_back(std::move(slot.file));
    }
    if (options.progress) options.progress(end, files.size());
  }
  out.embeds = EmbeddingMatrix{out.files.size(), dims, std::move(values)};
  return out;
}

}  // namespace prefscore
