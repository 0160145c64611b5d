// `prefscore models` (a table of the model cards and whether their weights are present) and
// `prefscore models show NAME` (one card in full, with where its weights are expected and whether
// each file was verified against the card's sha256, as remembered: nothing is hashed here).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "prefscore/io.h"
#include "prefscore/model_card.h"
#include "prefscore/weights_location.h"
#include "prefscore/weights_verification.h"
#include "verify_flags.h"

namespace prefscore::cli {
namespace {

struct ModelsOptions {
  std::string format = "table";
  std::string name;
  std::string weights;
};

// What is known of each present file without reading it: verified (a remembered digest of the
// file as it is now equals the card's), not checked yet, no sha256 in card, ...
std::vector<std::string> verification_states(const ModelCard& card, const WeightsLocation& loc,
                                             const Context& context) {
  std::vector<std::string> states(loc.files.size());
  const VerifyOptions options = verify_options(/*no_verify=*/false, context);
  for (const FileVerification& f : remembered_verification(card, loc, options)) {
    const auto it = std::find(loc.files.begin(), loc.files.end(), f.path);
    if (it != loc.files.end()) states[it - loc.files.begin()] = trust_name(f.trust);
  }
  return states;
}

nlohmann::ordered_json card_json(const ModelCard& card, const WeightsLocation& loc,
                                 const Context& context) {
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  const std::vector<std::string> states = verification_states(card, loc, context);
  for (std::size_t i = 0; i < card.weight_files.size(); ++i) {
    const WeightFile& wf = card.weight_files[i];
    bool present = std::find(loc.missing.begin(), loc.missing.end(), loc.files[i]) == loc.missing.end();
    files.push_back({{"name", wf.name},
                     {"path", loc.files[i]},
                     {"present", present},
                     {"sha256", wf.sha256 ? nlohmann::ordered_json(*wf.sha256) : nullptr},
                     {"verification", present ? nlohmann::ordered_json(states[i]) : nullptr}});
  }
  const ClipArchitecture& a = card.architecture;
  return {{"name", card.name},
          {"display_name", card.display_name},
          {"description", card.description},
          {"head", card.head},
          {"architecture",
           {{"image_size", a.image_size}, {"patch_size", a.patch_size},
            {"vision_width", a.vision_width}, {"vision_layers", a.vision_layers},
            {"vision_heads", a.vision_heads}, {"text_width", a.text_width},
            {"text_layers", a.text_layers}, {"text_heads", a.text_heads},
            {"mlp_ratio", a.mlp_ratio}, {"context_length", a.context_length},
            {"vocab_size", a.vocab_size}, {"embed_dim", a.embed_dim},
            {"activation", a.activation}, {"layer_norm_eps", a.layer_norm_eps}}},
          {"layout", card.layout},
          {"preprocess", card.preprocess},
          {"tokenizer", {{"mode", card.tokenizer_mode}, {"pad", card.tokenizer_pad}}},
          {"weights_dir", loc.dir},
          {"weights_present", loc.complete()},
          {"files", files},
          {"source", card.source_url},
          {"license", card.license},
          {"citation", card.citation},
          {"obtain", card.obtain},
          {"convert", card.convert},
          {"card", card.card_path}};
}

void list_models(const ModelsOptions& opts, const Context& context) {
  const std::vector<ModelCard> cards = load_model_cards(context.card_dirs);
  if (opts.format == "json") {
    for (const ModelCard& card : cards) {
      std::cout << card_json(card, locate_weights(card, "", context.weights_home), context)
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    }
    return;
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "METRIC", "LAYOUT", "WEIGHTS", "WHERE"}};
  for (const ModelCard& card : cards) {
    const WeightsLocation loc = locate_weights(card, "", context.weights_home);
    rows.push_back({card.name, card.head, card.layout,
                    loc.complete() ? "present"
                                   : "missing " + std::to_string(loc.missing.size()) + "/" +
                                         std::to_string(loc.files.size()),
                    loc.dir});
  }
  std::cout << format_table(rows);
  if (cards.empty()) std::cout << "(no model cards found)\n";
}

void show_model(const ModelsOptions& opts, const Context& context) {
  const ModelCard card = find_model_card(context.card_dirs, opts.name);
  const WeightsLocation loc = locate_weights(card, opts.weights, context.weights_home);
  const nlohmann::ordered_json j = card_json(card, loc, context);
  if (opts.format == "json") {
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "files" || it.key() == "architecture") continue;
    rows.push_back({it.key() + ":", it->is_string() ? it->get<std::string>() : it->dump()});
  }
  std::string dims;
  for (auto it = j["architecture"].begin(); it != j["architecture"].end(); ++it) {
    dims += (dims.empty() ? "" : " ") + it.key() + "=" +
            (it->is_string() ? it->get<std::string>() : it->dump());
  }
  rows.push_back({"architecture:", dims});
  for (const auto& f : j["files"]) {
    std::string line = f["path"].get<std::string>();
    line += f["present"].get<bool>() ? "  (present)" : "  (MISSING)";
    if (!f["sha256"].is_null()) line += "  sha256 " + f["sha256"].get<std::string>();
    if (!f["verification"].is_null()) line += "  (" + f["verification"].get<std::string>() + ")";
    rows.push_back({"file:", line});
  }
  std::cout << format_table(rows);
}

}  // namespace

void add_models(CLI::App& app, Context& context) {
  auto opts = std::make_shared<ModelsOptions>();
  CLI::App* models = app.add_subcommand("models", "List the model cards and whether their weights are present");
  models->add_option("--format", opts->format, "Output format: table or json (one object per line) [default: table]")
      ->check(CLI::IsMember({"table", "json"}));
  models->callback([opts, &context, models] {
    if (models->get_subcommands().empty()) list_models(*opts, context);
  });

  CLI::App* show = models->add_subcommand("show", "Show one model card in full, with where its weights are expected");
  show->add_option("name", opts->name, "Model name (see `prefscore models`) or a path to a card .json")
      ->required();
  show->add_option("--weights", opts->weights,
                   "Weights folder or file to check instead of $PREFSCORE_HOME/<model>/ [default: none]");
  show->add_option("--format", opts->format, "Output format: table or json [default: table]")
      ->check(CLI::IsMember({"table", "json"}));
  show->callback([opts, &context] { show_model(*opts, context); });
}

}  // namespace prefscore::cli
