#include "prefscore/ranking_output.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "prefscore/error.h"
#include "prefscore/io.h"

namespace prefscore {

namespace fs = std::filesystem;

std::string format_ranking(const ScoreReport& report, const std::vector<RankedGroup>& groups,
                           const std::string& model, const std::string& condition,
                           const std::string& format) {
  std::string text;
  if (format == "table") {
    std::vector<std::vector<std::string>> rows = {{"RANK", "SCORE", "PROB", "IMAGE"}};
    for (const RankedGroup& g : groups) {
      if (groups.size() > 1) rows.push_back({"#", "group:", g.group, ""});
      for (const RankedItem& r : g.items) {
        rows.push_back({std::to_string(r.rank), format_score(r.score), format_score(r.prob),
                        report.items[r.item].image});
      }
    }
    return format_table(rows);
  }
  if (format == "csv") {
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
    return text;
  }
  for (const RankedGroup& g : groups) {
    for (const RankedItem& r : g.items) {
      nlohmann::ordered_json j;
      j["group"] = g.group;
      j["rank"] = r.rank;
      j["image"] = report.items[r.item].image;
      j["model"] = model;
      if (!condition.empty()) j["condition"] = condition;
      j["score"] = r.score;
      j["prob"] = r.prob;
      text += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
  }
  return text;
}

void export_ranked(const ScoreReport& report, const std::vector<RankedGroup>& groups,
                   const std::string& dir_name, bool symlink, bool force) {
  const fs::path dir = dir_name;
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
    if (fs::exists(fs::symlink_status(target, ec)) && !force) {
      throw Error(target.string(), "already exists; pass --force to overwrite");
    }
  }
  for (const auto& [source, target] : plan) {
    if (force) fs::remove(target, ec);
    if (symlink) {
      fs::create_symlink(fs::absolute(source), target, ec);
    } else {
      fs::copy_file(source, target, fs::copy_options::overwrite_existing, ec);
    }
    if (ec) {
      throw Error(target.string(),
                  std::string(symlink ? "cannot link: " : "cannot copy: ") + ec.message());
    }
  }
}

}  // namespace prefscore
