// `prefscore explain`: word attributions (score change when each prompt word is removed) and a
// sliding-window occlusion map of one image for one prompt. The method is documented in
// include/prefscore/explain.h, the files in include/prefscore/explain_output.h. Gradient x input
// variants of both come from one backward pass per column.
#include <memory>

#include "commands.h"
#include "model_flags.h"
#include "output.h"
#include "prefscore/error.h"
#include "prefscore/explain_output.h"
#include "prefscore/io.h"

namespace prefscore::cli {
namespace {

struct ExplainCliOptions {
  ModelFlags model;
  std::string prompt;
  std::string image;
  std::string output_dir;
  ExplainOptions explain;
  bool no_regions = false;
  bool no_gradients = false;
  std::string format;
  std::string report;
};

void explain(ExplainCliOptions opts, Context& context) {
  opts.explain.batch_size = images_per_call(opts.model);
  opts.explain.regions = !opts.no_regions;
  opts.explain.gradients = !opts.no_gradients;
  // Attribution wants the model's own numbers and a backward pass, which the CPU bf16 fast path
  // lacks: `auto` means fp32 here (fp16 on CUDA as elsewhere).
  if (opts.model.run.precision == "auto" && opts.model.run.device == "cpu") {
    opts.model.run.precision = "fp32";
  }
  const auto scorers = open_scorers(opts.model, context);
  if (scorers.size() != 1) throw Error("--model", "explain takes one model");
  Scorer& scorer = *scorers[0];
  const Explanation e = explain_image(scorer, opts.image, opts.prompt, opts.explain);
  std::vector<std::string> files;
  if (!opts.output_dir.empty()) {
    files = write_explanation(e, scorer.model_name(), opts.explain, opts.output_dir);
  }
  // After the -o files: a report that cannot be written fails the run (exit 1, the error names
  // the file) without losing them.
  write_report(
      opts.report, "explain",
      [&] { return explanation_report_page(e, scorer.model_name(), opts.explain); }, context);
  if (!opts.report.empty()) files.push_back(opts.report);
  const std::string format = opts.format.empty() ? resolve_format("", "") : opts.format;
  if (format == "table") {
    std::vector<std::vector<std::string>> rows = {{"WORD"}};
    const bool gradients = !e.words.empty() && !e.words.front().gradient.empty();
    for (const std::string& c : e.columns) rows[0].push_back("DELTA_" + c);
    if (gradients) {
      for (const std::string& c : e.columns) rows[0].push_back("GRADxIN_" + c);
    }
    rows.push_back({"(score)"});
    for (double v : e.score) rows.back().push_back(format_score(v));
    if (gradients) rows.back().resize(rows[0].size());
    for (const WordAttribution& w : e.words) {
      rows.push_back({w.word + (w.truncated ? " (truncated)" : "")});
      for (double v : w.delta) rows.back().push_back(format_score(v));
      for (double v : w.gradient) rows.back().push_back(format_score(v));
    }
    std::string text = format_table(rows);
    std::string misaligned;
    for (const std::string& w : misaligned_words(e))
      misaligned += (misaligned.empty() ? "" : ", ") + w;
    text += "misaligned-word candidates (" + e.columns.front() +
            " rises without them): " + (misaligned.empty() ? "none" : misaligned) + "\n";
    for (const std::string& f : files) text += "wrote " + f + "\n";
    emit(text, "");
  } else {
    emit(explanation_json(e, scorer.model_name(), opts.explain, files)
                 .dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
             "\n",
         "");
  }
}

}  // namespace

void add_explain(CLI::App& app, Context& context) {
  auto opts = std::make_shared<ExplainCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "explain",
      "Why an image scores as it does: per-word and per-region occlusion and gradient x input "
      "attributions (here --precision auto = fp32 on CPU: gradients need a backward pass)");
  add_model_flags(*cmd, opts->model, /*allow_several_models=*/false);
  cmd->add_option("-p,--prompt", opts->prompt, "The prompt the image was generated from")
      ->required();
  cmd->add_option("image", opts->image, "The image file")->required();
  cmd->add_option("-o,--output", opts->output_dir,
                  "Write <stem>.occlusion.safetensors, <stem>.occlusion.png (overlay at the "
                  "image's size) and <stem>.explain.json into this folder [default: none]");
  cmd->add_option("--window", opts->explain.window,
                  "Occlusion window side, in model-input pixels (the card's image_size, 224 for "
                  "CLIP-H) [default: 56]")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--stride", opts->explain.stride,
                  "Step between occlusion windows, in model-input pixels [default: 28]")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-regions", opts->no_regions,
                "Word attributions only: no occlusion map (one model call per word instead of "
                "one per window) [default: off]");
  cmd->add_flag("--no-gradients", opts->no_gradients,
                "No gradient x input attributions (words and pixel map; they take one forward "
                "and one backward pass per column, and a differentiable precision) "
                "[default: off]");
  add_report_flag(*cmd, opts->report,
                  "the image beside its occlusion and gradient overlays (per column) and the "
                  "sortable word table",
                  /*thumbnails=*/true);
  cmd->add_option("--format", opts->format,
                  "table (word deltas) or json (everything) [default: table on a terminal, "
                  "else json]")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->callback([opts, &context] { explain(*opts, context); });
}

}  // namespace prefscore::cli
