#include "prefscore/scoring.h"

#include <torch/torch.h>

#include <map>
#include <set>

#include "prefscore/error.h"
#include "prefscore/image_torch.h"

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
  // Softmax of the scaled scores over each group's candidates, per scorer and column.
  std::map<std::string, std::vector<std::size_t>> groups;  // group -> positions in `kept`
  for (std::size_t k = 0; k < kept.size(); ++k) {
    groups[candidate_group(report->items[k])].push_back(k);
  }
  std::vector<std::vector<std::vector<float>>> probs(scorers.size());  // [scorer][k][column]
  for (std::size_t s = 0; s < scorers.size(); ++s) {
    const std::size_t columns = scorers[s]->columns().size();
    probs[s].assign(kept.size(), std::vector<float>(columns, 0.0f));
    for (const auto& [name, members] : groups) {
      for (std::size_t c = 0; c < columns; ++c) {
        std::vector<float> scaled;
        for (std::size_t k : members) scaled.push_back(per_scorer[s][kept[k]].scaled[c]);
        const at::Tensor p = at::softmax(torch::tensor(scaled, torch::kFloat32), 0);
        for (std::size_t m = 0; m < members.size(); ++m) {
          probs[s][members[m]][c] = p[static_cast<int64_t>(m)].item<float>();
        }
      }
    }
  }
  for (std::size_t k = 0; k < kept.size(); ++k) {
    for (std::size_t s = 0; s < scorers.size(); ++s) {
      const auto& cols = scorers[s]->columns();
      for (std::size_t c = 0; c < cols.size(); ++c) {
        report->rows.push_back(ScoreRow{k, scorers[s]->model_name(), scorers[s]->head(), cols[c],
                                        per_scorer[s][kept[k]].score[c], probs[s][k][c],
                                        per_scorer[s][kept[k]].scaled[c]});
      }
    }
  }
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

}  // namespace

std::string candidate_group(const ScoreItem& item) {
  return item.group.empty() ? "prompt:" + item.prompt : "group:" + item.group;
}

ScoreReport score_items(const std::vector<Scorer*>& scorers, const std::vector<ScoreItem>& items,
                        const ScoreRunOptions& options) {
  ScoreReport report = make_report(scorers);
  const std::size_t batch = static_cast<std::size_t>(std::max(1, options.batch_size));
  std::vector<std::vector<ItemScores>> per_scorer(scorers.size(),
                                                  std::vector<ItemScores>(items.size()));
  std::set<std::size_t> failed;
  std::size_t done = 0;
  const std::size_t total = items.size() * scorers.size();
  for (std::size_t s = 0; s < scorers.size(); ++s) {
    Scorer& scorer = *scorers[s];
    for (std::size_t start = 0; start < items.size(); start += batch) {
      std::vector<std::size_t> ok;
      std::vector<PixelValues> pixels;
      for (std::size_t i = start; i < std::min(items.size(), start + batch); ++i) {
        if (failed.count(i)) continue;
        try {
          pixels.push_back(preprocess_file(items[i].image, scorer.preprocess_options()));
          ok.push_back(i);
        } catch (const Error& e) {
          failed.insert(i);
          report.skipped.push_back(e.what());
        }
      }
      if (!ok.empty()) {
        const ImageFeatures features = scorer.encode_images(stack_pixel_values(pixels));
        for (std::size_t j = 0; j < ok.size(); ++j) {
          try {
            record(scorer.score(items[ok[j]].prompt, feature_row(features, static_cast<int64_t>(j))),
                   0, &per_scorer[s][ok[j]]);
          } catch (const Error& e) {  // a prompt that cannot be tokenized (invalid UTF-8)
            failed.insert(ok[j]);
            report.skipped.push_back(items[ok[j]].image + ": " + e.what());
          }
        }
      }
      done += std::min(items.size(), start + batch) - start;
      if (options.progress) options.progress(done, total);
    }
  }
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!failed.count(i)) {
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
