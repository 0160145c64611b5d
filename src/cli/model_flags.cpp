#include "model_flags.h"

#include <algorithm>
#include <sstream>

#include "prefscore/error.h"
#include "verify_flags.h"

namespace prefscore::cli {

void add_model_flags(CLI::App& command, ModelFlags& flags, bool allow_several_models) {
  command.add_option("-m,--model", flags.models,
                     allow_several_models
                         ? "Model card name(s), comma-separated (see `prefscore models`)"
                         : "Model card name (see `prefscore models`)");
  command.add_option("--model-card", flags.model_card, "Use this model card file (.json)");
  command.add_option("--weights", flags.weights,
                     "Weights folder or file [default: $PREFSCORE_HOME/<model>/]; without "
                     "--model, an official checkpoint scored with --head");
  command.add_option("--head", flags.head, "Head for a checkpoint without a card: pickscore, "
                                           "hpsv2, mps or clip")
      ->check(CLI::IsMember({"pickscore", "hpsv2", "mps", "clip"}));
  command.add_option("--layout", flags.layout,
                     "Checkpoint layout: huggingface, open_clip or mps [default: from the card "
                     "or the tensor names]")
      ->check(CLI::IsMember({"huggingface", "hf", "open_clip", "openclip", "mps"}));
  command.add_option("--config", flags.config,
                     "transformers config.json or open_clip model config [default: next to the "
                     "weights]");
  command.add_option("--condition", flags.condition,
                     "MPS condition(s): overall, aesthetics, detail, semantic, a comma-separated "
                     "list, or all [default: overall]");
  command
      .add_option("--batch-size", flags.batch_size,
                  "Images per model call [default: 8 on the CPU, 32 on CUDA]")
      ->check(CLI::PositiveNumber);
  command.add_option("--max-pixels", flags.max_pixels,
                     "Refuse (skip) images with more pixels, checked before decoding "
                     "[default: 100000000]")
      ->check(CLI::PositiveNumber);
  command.add_option("--max-prompt-bytes", flags.max_prompt_bytes,
                     "Refuse (skip) prompts longer than this, in UTF-8 bytes, before tokenizing "
                     "(77 tokens are kept in any case) [default: 65536]")
      ->check(CLI::PositiveNumber);
  command.add_option("--max-header-bytes", flags.max_header_bytes,
                     "Refuse weights files whose safetensors JSON header is longer, in bytes "
                     "[default: 104857600 (100 MiB)]")
      ->check(CLI::PositiveNumber);
  command.add_flag("--exif-transpose", flags.exif_transpose,
                   "Rotate images by their EXIF orientation first (the official tools do not) "
                   "[default: off]");
  add_verify_flag(command, flags.no_verify);
  add_run_flags(command, flags.run);
  add_packed_cache_flag(command, flags.run);
}

int images_per_call(const ModelFlags& flags) {
  return images_per_call(flags.batch_size, flags.run);
}

std::vector<std::unique_ptr<Scorer>> open_scorers(const ModelFlags& flags, const Context& context) {
  const RunOptions run = apply_run_flags(flags.run);
  std::vector<std::string> names;
  std::stringstream list(flags.models);
  for (std::string name; std::getline(list, name, ',');) {
    if (!name.empty()) names.push_back(name);
  }
  if (!flags.model_card.empty()) names.push_back(flags.model_card);
  if (names.empty() && flags.weights.empty()) {
    throw Error("", "no model: pass --model NAME (see `prefscore models`), --model-card FILE, or "
                    "--weights DIR --head HEAD");
  }
  if (names.size() > 1 && !flags.weights.empty()) {
    throw Error("--weights", "names one checkpoint; it cannot go with several models");
  }
  if (names.empty()) names.push_back("");  // card-less checkpoint
  std::vector<std::string> conditions;
  std::stringstream cl(flags.condition == "all" ? "overall,aesthetics,detail,semantic"
                                                : flags.condition);
  for (std::string c; std::getline(cl, c, ',');) {
    if (!c.empty()) conditions.push_back(c);
  }
  std::vector<std::unique_ptr<Scorer>> scorers;
  std::vector<FileVerification> verification;
  for (const std::string& name : names) {
    ScorerSpec spec;
    spec.source.model = name;
    spec.source.weights = flags.weights;
    spec.source.layout = flags.layout;
    spec.source.config = flags.config;
    spec.source.limits.max_header_bytes = flags.max_header_bytes;
    spec.source.verify = verify_options(flags.no_verify, context);
    spec.source.packed_weights = packed_weights_cache(flags.run, context.cache_dir);
    spec.max_prompt_bytes = flags.max_prompt_bytes;
    spec.head = flags.head;
    spec.vocab_path = context.vocab_path;
    spec.conditions = conditions;
    spec.decode.max_pixels = flags.max_pixels;
    spec.decode.exif_transpose = flags.exif_transpose;
    scorers.push_back(std::make_unique<Scorer>(spec, context.card_dirs, context.weights_home, run));
    report_packed_weights(scorers.back()->clip().packed_weights_report());
    const auto& checked = scorers.back()->verification();
    verification.insert(verification.end(), checked.begin(), checked.end());
  }
  report_verification(verification, flags.no_verify);
  const bool any_mps = std::any_of(scorers.begin(), scorers.end(),
                                   [](const auto& s) { return s->head() == "mps"; });
  if (!any_mps && flags.condition != "overall" && !flags.conditions_optional) {
    throw Error("--condition", "applies to MPS models only; none of the models given is MPS");
  }
  return scorers;
}

std::vector<Scorer*> raw_pointers(const std::vector<std::unique_ptr<Scorer>>& scorers) {
  std::vector<Scorer*> out;
  for (const auto& s : scorers) out.push_back(s.get());
  return out;
}

}  // namespace prefscore::cli
