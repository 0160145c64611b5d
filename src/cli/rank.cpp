// `prefscore rank`: best-of-N. Ranks the candidates of each prompt (or manifest group) and can copy
// or link the best ones into a folder.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "input_flags.h"
#include "model_flags.h"
#include "output.h"
#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/ranking.h"

namespace prefscore::cli {
namespace {

namespace fs = std::filesystem;

struct RankOptions {
  ModelFlags model;
  InputFlags input;
  std::size_t top = 0;
  std::string copy_to;
  std::string link_to;
  bool force = false;
  std::string format;
  std::string output;
};

// Copies or links each ranked image to DIR/[g<group>_]<rank>_<name>; never overwrites unless
// --force. Every target is checked before the first file is written.
void export_ranked(const RankOptions& opts, const ScoreReport& report,
                   const std::vector<RankedGroup>& groups) {
  const bool link = !opts.link_to.empty();
  const fs::path dir = link ? opts.link_to : opts.copy_to;
  std::vector<std::pair<fs::path, fs::path>> plan;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (const RankedItem& r : groups[g].items) {
      const fs::path source = report.items[r.item].image;
      char prefix[32];
      std::snprintf(prefix, sizeof prefix, "%03d_", r.rank);
      const std::string group_prefix = groups.size() > 1 ? "g" + std::to_string(g + 1) + "_" : "";
      plan.emplace_back(source, dir / (group_prefix + prefix + source.filename().string()));
    }
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir.string(), "cannot create folder: " + ec.message());
  for (const auto& [source, target] : plan) {
    if (fs::exists(fs::symlink_status(target, ec)) && !opts.force) {
      throw Error(target.string(), "already exists; pass --force to overwrite");
    }
  }
  for (const auto& [source, target] : plan) {
    if (opts.force) fs::remove(target, ec);
    if (link) {
      fs::create_symlink(fs::absolute(source), target, ec);
    } else {
      fs::copy_file(source, target, fs::copy_options::overwrite_existing, ec);
    }
    if (ec) throw Error(target.string(), std::string(link ? "cannot link: " : "cannot copy: ") + ec.message());
  }
}

void rank(const RankOptions& opts, Context& context) {
  if (!opts.copy_to.empty() && !opts.link_to.empty()) {
    throw Error("--copy-to", "give --copy-to or --link-to, not both");
  }
  const auto scorers = open_scorers(opts.model, context);
  if (scorers.size() != 1) throw Error("--model", "rank takes one model");
  const ScoreReport report = run_scoring(opts.input, raw_pointers(scorers), opts.model.batch_size);
  const std::vector<RankedGroup> groups = rank_candidates(report, /*column=*/0, opts.top);
  const std::string format = resolve_format(opts.format, opts.output);
  const std::string& model = scorers[0]->model_name();
  std::string text;
  if (format == "table") {
    std::vector<std::vector<std::string>> rows = {{"RANK", "SCORE", "PROB", "IMAGE"}};
    for (const RankedGroup& g : groups) {
      if (groups.size() > 1) rows.push_back({"#", "group:", g.group, ""});
      for (const RankedItem& r : g.items) {
        rows.push_back({std::to_string(r.rank), format_score(r.score), format_score(r.prob), report.items[r.item].image});
      }
    }
    text = format_table(rows);
  } else if (format == "csv") {
    text = "group,rank,image,model,score,prob\n";
    // File names need not be UTF-8: invalid bytes become U+FFFD, as in the JSON lines.
    const auto quoted = [](const nlohmann::json& v) {
      return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    };
    for (const RankedGroup& g : groups) {
      for (const RankedItem& r : g.items) {
        nlohmann::json group = g.group, image = report.items[r.item].image;
        text += quoted(group) + "," + std::to_string(r.rank) + "," + quoted(image) + "," + model +
                "," + format_score(r.score) + "," + format_score(r.prob) + "\n";
      }
    }
  } else {
    for (const RankedGroup& g : groups) {
      for (const RankedItem& r : g.items) {
        nlohmann::ordered_json j;
        j["group"] = g.group;
        j["rank"] = r.rank;
        j["image"] = report.items[r.item].image;
        j["model"] = model;
        if (scorers[0]->head() == "mps") j["condition"] = scorers[0]->columns()[0];
        j["score"] = r.score;
        j["prob"] = r.prob;
        text += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      }
    }
  }
  if (!opts.copy_to.empty() || !opts.link_to.empty()) export_ranked(opts, report, groups);
  emit(text, opts.output);
  report_skipped(report.skipped, context);
}

}  // namespace

void add_rank(CLI::App& app, Context& context) {
  auto opts = std::make_shared<RankOptions>();
  CLI::App* cmd = app.add_subcommand(
      "rank", "Best-of-N: rank the candidate images of each prompt (or manifest group)");
  add_model_flags(*cmd, opts->model, /*allow_several_models=*/false);
  add_input_flags(*cmd, opts->input);
  cmd->add_option("--top", opts->top, "Keep the best K of each group [default: 0 = all]");
  cmd->add_option("--copy-to", opts->copy_to, "Copy the ranked images here as <rank>_<name>");
  cmd->add_option("--link-to", opts->link_to, "Symlink the ranked images here as <rank>_<name>");
  cmd->add_flag("--force", opts->force, "Overwrite existing files in --copy-to/--link-to");
  cmd->add_option("--format", opts->format,
                  "table, jsonl or csv [default: table on a terminal, else jsonl]")
      ->check(CLI::IsMember({"table", "jsonl", "csv"}));
  cmd->add_option("-o,--output", opts->output, "Write here (atomically) instead of stdout");
  cmd->callback([opts, &context] { rank(*opts, context); });
}

}  // namespace prefscore::cli
