#include "prefscore/scoring.h"

#include <torch/torch.h>

#include <map>
#include <optional>

#include "prefscore/embedding_cache.h"
#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/prefetch_pool.h"
#include "prefscore/sha256.h"

namespace prefscore {
namespace {

// Per-item scores of one scorer: [columns] score and scaled score.
struct ItemScores {
  std::vector<float> score, scaled;
};

void fill_probabilities(ScoreReport* report,
                        const std::vector<std::vector<ItemScores>>& per_scorer,
                        const std::vector<Scorer*>& scorers,
                        const std::vector<std::size_t>& kept) {
  for (std::size_t k = 0; k < kept.size(); ++k) {
    for (std::size_t s = 0; s < scorers.size(); ++s) {
      const auto& cols = scorers[s]->columns();
      for (std::size_t c = 0; c < cols.size(); ++c) {
        report->rows.push_back(ScoreRow{k, scorers[s]->model_name(), scorers[s]->head(), cols[c],
                                        per_scorer[s][kept[k]].score[c], /*prob=*/0.0,
                                        per_scorer[s][kept[k]].scaled[c]});
      }
    }
  }
  assign_group_probabilities(report);
}

// Row j of a batch's features, as a batch of one.
ImageFeatures feature_row(const ImageFeatures& features, int64_t j) {
  return ImageFeatures{features.embeds.slice(0, j, j + 1),
                       features.tokens.defined() ? features.tokens.slice(0, j, j + 1) : at::Tensor()};
}

void record(const PromptScores& scores, std::size_t i, ItemScores* out) {
  const at::Tensor s = scores.scores.to(torch::kFloat32).contiguous();
  const at::Tensor z = scores.scaled.to(torch::kFloat32).contiguous();
  for (int64_t c = 0; c < s.size(0); ++c) {
    out->score.push_back(s[c][static_cast<int64_t>(i)].item<float>());
    out->scaled.push_back(z[c][static_cast<int64_t>(i)].item<float>());
  }
}

ScoreReport make_report(const std::vector<Scorer*>& scorers) {
  ScoreReport report;
  for (const Scorer* s : scorers) {
    for (const std::string& c : s->columns()) report.columns.emplace_back(s->model_name(), c);
  }
  return report;
}

// The distinct preprocessing the scorers need: an image is decoded once per distinct decode
// options and preprocessed once per distinct pipeline, however many scorers share them.
struct Preparation {
  std::vector<PreprocessOptions> pipelines;
  std::vector<std::size_t> pipeline_of;  // per scorer: index into `pipelines`
  std::vector<std::size_t> decode_of;    // per pipeline: first pipeline with its decode options
};

bool same_decode(const DecodeOptions& a, const DecodeOptions& b) {
  return a.max_pixels == b.max_pixels && a.exif_transpose == b.exif_transpose;
}

Preparation plan_preparation(const std::vector<Scorer*>& scorers) {
  Preparation prep;
  for (const Scorer* s : scorers) {
    const PreprocessOptions& o = s->preprocess_options();
    std::size_t p = 0;
    while (p < prep.pipelines.size() &&
           !(prep.pipelines[p].pipeline == o.pipeline &&
             prep.pipelines[p].image_size == o.image_size &&
             same_decode(prep.pipelines[p].decode, o.decode))) {
      ++p;
    }
    if (p == prep.pipelines.size()) {
      std::size_t d = 0;  // the first pipeline with these decode options: this one when none
      while (d < prep.pipelines.size() && !same_decode(prep.pipelines[d].decode, o.decode)) ++d;
      prep.decode_of.push_back(d);
      prep.pipelines.push_back(o);
    }
    prep.pipeline_of.push_back(p);
  }
  return prep;
}

// What the workers found for one item.
struct ItemState {
  std::string error;           // the first problem, "path: reason"; empty while the item is fine
  std::string content_sha256;  // with a cache: the file's digest
  std::vector<std::optional<ImageFeatures>> cached;  // per scorer: features from the cache
  std::vector<std::string> warnings;                 // unusable cache entries
};

// Reads one image file, looks its features up in the cache for each scorer, and decodes and
// preprocesses it (into row_of(pipeline)) for each pipeline a scorer without cached features
// needs. Runs on a worker thread; touches only `state` and the rows given to it.
template <typename RowOf>
void prepare_item(const std::string& path, const Preparation& prep, const EmbeddingCache* cache,
                  const std::vector<EmbeddingKey>& keys, ItemState* state, RowOf row_of) {
  const std::size_t scorers = prep.pipeline_of.size();
  state->cached.assign(scorers, std::nullopt);
  try {
    const std::string bytes = read_file(path);
    if (cache != nullptr) {
      state->content_sha256 = sha256_hex(bytes);
      for (std::size_t s = 0; s < scorers; ++s) {
        std::string warning;
        state->cached[s] = cache->load(keys[s], state->content_sha256, &warning);
        if (!warning.empty()) state->warnings.push_back(std::move(warning));
      }
    }
    std::vector<std::optional<PilImage>> decoded(prep.pipelines.size());
    for (std::size_t p = 0; p < prep.pipelines.size(); ++p) {
      bool needed = false;
      for (std::size_t s = 0; s < scorers; ++s) needed |= prep.pipeline_of[s] == p && !state->cached[s];
      if (!needed) continue;
      const std::size_t d = prep.decode_of[p];
      if (!decoded[d]) decoded[d] = decode_image(bytes, path, prep.pipelines[p].decode);
      preprocess_image_into(*decoded[d], prep.pipelines[p], path, row_of(p));
    }
  } catch (const Error& e) {
    state->error = e.what();
  }
}

}  // namespace

void assign_group_probabilities(ScoreReport* report) {
  const std::size_t columns = report->columns.size();
  std::map<std::string, std::vector<std::size_t>> groups;  // group -> items, in report order
  for (std::size_t k = 0; k < report->items.size(); ++k) {
    groups[candidate_group(report->items[k])].push_back(k);
  }
  for (const auto& [name, members] : groups) {
    for (std::size_t c = 0; c < columns; ++c) {
      std::vector<float> logits;
      for (std::size_t k : members) {
        logits.push_back(static_cast<float>(report->rows[k * columns + c].logit));
      }
      const at::Tensor p = at::softmax(torch::tensor(logits, torch::kFloat32), 0);
      for (std::size_t m = 0; m < members.size(); ++m) {
        report->rows[members[m] * columns + c].prob = p[static_cast<int64_t>(m)].item<float>();
      }
    }
  }
}

ScoreReport score_items(const std::vector<Scorer*>& scorers, const std::vector<ScoreItem>& items,
                        const ScoreRunOptions& options) {
  ScoreReport report = make_report(scorers);
  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch_size));
  const std::size_t n = items.size();
  const std::size_t count = scorers.size();
  const Preparation prep = plan_preparation(scorers);
  std::vector<EmbeddingKey> keys;
  if (options.cache != nullptr) {
    for (const Scorer* s : scorers) keys.push_back(options.cache->key_for(*s));
  }
  // Two sets of batch buffers: the model reads one while the workers fill the other.
  constexpr std::size_t kSlots = 2;
  std::vector<std::vector<at::Tensor>> buffers(kSlots);
  for (auto& slot : buffers) {
    for (const PreprocessOptions& p : prep.pipelines) {
      slot.push_back(torch::empty({static_cast<int64_t>(batch), 3, p.image_size, p.image_size},
                                  torch::kFloat32));
    }
  }
  std::vector<ItemState> states(n);
  auto job = [&](std::size_t i) {
    prepare_item(items[i].image, prep, options.cache, keys, &states[i], [&](std::size_t p) {
      const std::size_t floats_per_image = 3 * static_cast<std::size_t>(
          prep.pipelines[p].image_size) * static_cast<std::size_t>(prep.pipelines[p].image_size);
      return buffers[(i / batch) % kSlots][p].data_ptr<float>() + (i % batch) * floats_per_image;
    });
  };
  PrefetchPool pool(n, std::max(0, options.decode_threads), kSlots * batch, job);

  std::vector<std::vector<ItemScores>> per_scorer(count, std::vector<ItemScores>(n));
  std::vector<bool> failed(n, false);
  bool store_failed = false;  // one warning, not one per image
  for (std::size_t start = 0; start < n; start += batch) {
    const std::size_t end = std::min(n, start + batch);
    pool.wait_until(end);
    const std::vector<at::Tensor>& slot = buffers[(start / batch) % kSlots];
    for (std::size_t s = 0; s < count; ++s) {
      Scorer& scorer = *scorers[s];
      std::vector<int64_t> rows;  // rows of the batch buffer that go through the image tower
      for (std::size_t i = start; i < end; ++i) {
        if (states[i].error.empty() && !states[i].cached[s]) rows.push_back(int64_t(i - start));
      }
      ImageFeatures computed;
      if (!rows.empty()) {
        const at::Tensor& buffer = slot[prep.pipeline_of[s]];
        const bool whole = rows.size() == end - start;
        computed = scorer.encode_images(
            whole ? buffer.slice(0, 0, int64_t(end - start))
                  : buffer.index_select(0, torch::tensor(rows, torch::kInt64)));
        report.images_encoded += rows.size();
      }
      std::size_t next_row = 0;
      for (std::size_t i = start; i < end; ++i) {
        ItemState& st = states[i];
        if (!st.error.empty()) continue;
        ImageFeatures features;
        if (st.cached[s]) {
          const c10::Device device = scorer.clip().options().device;
          features = ImageFeatures{st.cached[s]->embeds.to(device),
                                   st.cached[s]->tokens.defined() ? st.cached[s]->tokens.to(device)
                                                                  : at::Tensor()};
          ++report.cache_hits;
        } else {
          features = feature_row(computed, static_cast<int64_t>(next_row++));
          if (options.cache != nullptr && !store_failed) {
            try {
              options.cache->store(keys[s], st.content_sha256, features);
            } catch (const Error& e) {  // a full disk or a read-only cache: scores go on
              report.warnings.push_back(std::string(e.what()) + "; caching no more in this run");
              store_failed = true;
            }
          }
        }
        try {
          record(scorer.score(items[i].prompt, features), 0, &per_scorer[s][i]);
        } catch (const Error& e) {  // a prompt that cannot be tokenized (invalid UTF-8)
          st.error = items[i].image + ": " + e.what();
        }
      }
    }
    // Reports in input order, whatever thread or scorer met the problem.
    for (std::size_t i = start; i < end; ++i) {
      for (std::string& w : states[i].warnings) report.warnings.push_back(std::move(w));
      if (!states[i].error.empty()) {
        failed[i] = true;
        report.skipped.push_back(std::move(states[i].error));
      }
      states[i] = ItemState{};  // frees cached features
    }
    pool.release(end);
    if (options.progress) options.progress(end * count, n * count);
  }
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < n; ++i) {
    if (!failed[i]) {
      kept.push_back(i);
      report.items.push_back(items[i]);
    }
  }
  fill_probabilities(&report, per_scorer, scorers, kept);
  return report;
}

ScoreReport score_pixel_batch(const std::vector<Scorer*>& scorers, const at::Tensor& pixel_values,
                              const std::vector<ScoreItem>& items, const ScoreRunOptions& options) {
  if (pixel_values.dim() != 4 || pixel_values.size(0) != static_cast<int64_t>(items.size())) {
    throw Error("pixel_values", "expected [" + std::to_string(items.size()) + ", 3, H, W]");
  }
  ScoreReport report = make_report(scorers);
  const int64_t batch = std::max(1, options.batch_size);
  std::vector<std::vector<ItemScores>> per_scorer(scorers.size(),
                                                  std::vector<ItemScores>(items.size()));
  for (std::size_t s = 0; s < scorers.size(); ++s) {
    for (int64_t start = 0; start < pixel_values.size(0); start += batch) {
      const int64_t end = std::min(pixel_values.size(0), start + batch);
      const ImageFeatures features = scorers[s]->encode_images(pixel_values.slice(0, start, end));
      report.images_encoded += static_cast<std::size_t>(end - start);
      for (int64_t j = 0; j < end - start; ++j) {
        const auto i = static_cast<std::size_t>(start + j);
        record(scorers[s]->score(items[i].prompt, feature_row(features, j)), 0, &per_scorer[s][i]);
      }
      if (options.progress) {
        options.progress(s * items.size() + static_cast<std::size_t>(end),
                         scorers.size() * items.size());
      }
    }
  }
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < items.size(); ++i) kept.push_back(i);
  report.items = items;
  fill_probabilities(&report, per_scorer, scorers, kept);
  return report;
}

}  // namespace prefscore
