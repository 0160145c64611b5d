// `prefscore audit`: how a synthetic image set compares with a real one (unrealistic,
// unrepresentative, unvaried, unoriginal), from the image embeddings of one model's image tower.
// The formulas are in include/prefscore/audit.h.
#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "model_flags.h"
#include "output.h"
#include "prefscore/dataset_audit.h"
#include "prefscore/embedding_cache.h"
#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/report_pages.h"

namespace prefscore::cli {
namespace {

struct AuditCliOptions {
  ModelFlags model;
  std::string real;
  std::string synthetic;
  std::string cache;
  AuditOptions audit;
  std::string format = "json";
  std::string output;
  std::string report;
};

void audit(AuditCliOptions opts, Context& context) {
  // CLIP-H's own image tower unless a model is named: every card's tower can audit.
  if (opts.model.models.empty() && opts.model.model_card.empty() && opts.model.weights.empty()) {
    opts.model.models = "clip-h";
  }
  const auto scorers = open_scorers(opts.model, context);
  if (scorers.size() != 1) throw Error("--model", "audit takes one model");
  std::optional<EmbeddingCache> cache;
  Progress progress("embedding");
  ImageEmbeddingOptions embedding;
  embedding.batch_size = images_per_call(opts.model);
  embedding.progress = [&progress](std::size_t done, std::size_t total) { progress(done, total); };
  if (!opts.cache.empty()) {
    cache.emplace(opts.cache);
    embedding.cache = &*cache;
  }
  const DatasetAudit result =
      audit_folders(*scorers[0], opts.real, opts.synthetic, opts.audit, embedding);
  progress.finish();
  for (const std::string& w : result.warnings) std::cerr << "prefscore: warning: " << w << "\n";
  if (cache) {
    std::cerr << "prefscore: cache " << opts.cache << ": " << result.cache_hits
              << " image features read, " << result.images_encoded << " computed\n";
  }
  const nlohmann::ordered_json report_json = audit_report_json(result);
  std::string text;
  if (opts.format == "table") {
    const AuditResult& r = result.result;
    text = format_table({{"SCORE", "VALUE", "MEANING"},
                         {"unrealistic", format_score(r.unrealistic),
                          "mean out-of-fold P(synthetic) of synthetic images; 0.5 = chance"},
                         {"unrepresentative", format_score(r.unrepresentative),
                          "mean out-of-fold P(real) of real images; 0.5 = chance"},
                         {"unvaried", format_score(r.unvaried),
                          "fraction of synthetic images in a near-duplicate pair (" +
                              std::to_string(r.unvaried_pairs.size()) + " pairs)"},
                         {"unoriginal", format_score(r.unoriginal),
                          "fraction of synthetic images near-duplicating a real one (" +
                              std::to_string(r.unoriginal_pairs.size()) + " pairs)"},
                         {"nearest_distance", format_score(r.mean_nearest_synthetic_distance),
                          "mean cosine distance of a real image to its nearest synthetic one"}});
  } else {
    text = report_json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  emit(text, opts.output);
  write_report(
      opts.report, "audit", [&] { return audit_report_page(report_json); }, context);
  report_skipped(result.skipped, context);
}

}  // namespace

void add_audit(CLI::App& app, Context& context) {
  auto opts = std::make_shared<AuditCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "audit",
      "Audit a synthetic image set against a real one: unrealistic, unrepresentative, "
      "unvaried, unoriginal, from the image embeddings of --model [default: clip-h]");
  cmd->add_option("--real", opts->real, "Folder of real images (searched recursively)")->required();
  cmd->add_option("--synthetic", opts->synthetic,
                  "Folder of synthetic images (searched recursively)")
      ->required();
  add_model_flags(*cmd, opts->model, /*allow_several_models=*/false);
  // Only the image tower runs: no prompt, so no MPS condition and no prompt-length limit.
  for (const char* unused : {"--condition", "--max-prompt-bytes"}) {
    cmd->remove_option(cmd->get_option(unused));
  }
  cmd->add_option("--cache", opts->cache,
                  "Image-embedding cache folder, shared with score/rank: images seen before with "
                  "the same model and settings skip the image tower [default: none]");
  cmd->add_option("--folds", opts->audit.folds,
                  "Cross-validation folds of the real-vs-synthetic classifier, at most the smaller "
                  "set's size [default: 5]")
      ->check(CLI::Range(2, 1000000));
  cmd->add_option("--seed", opts->audit.seed, "Seed of the fold assignment [default: 0]");
  cmd->add_option("--l2", opts->audit.l2,
                  "L2 penalty (lambda/2)·||w||² of the logistic regression [default: 0.001]")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-iterations", opts->audit.max_iterations,
                  "Gradient steps per fold at most [default: 2000]")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--duplicate-cosine", opts->audit.duplicate_cosine,
                  "unvaried: synthetic pairs with cosine similarity at least this are "
                  "near-duplicates [default: 0.95]")
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--memorisation-cosine", opts->audit.memorisation_cosine,
                  "unoriginal: synthetic-real pairs with cosine similarity at least this are "
                  "flagged [default: 0.95]")
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--format", opts->format,
                  "json (one object: the four scores and the per-image lists) or table (the "
                  "scores) [default: json]")
      ->check(CLI::IsMember({"json", "table"}));
  cmd->add_option("-o,--output", opts->output, "Write here (atomically) instead of stdout");
  add_report_flag(*cmd, opts->report,
                  "the four scores, histograms of P(synthetic) and P(real), both per-image tables "
                  "and the near-duplicate pairs side by side",
                  /*thumbnails=*/true);
  cmd->callback([opts, &context] { audit(*opts, context); });
}

}  // namespace prefscore::cli
