#include "prefscore/model_card.h"

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <set>

#include "prefscore/error.h"
#include "prefscore/io.h"
#include "prefscore/text_lines.h"

namespace prefscore {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Reads fields of one JSON object, naming the card file and the field path in every error, and
// rejecting fields it does not know (a misspelt field must not be silently ignored).
class FieldReader {
 public:
  FieldReader(const json& object, std::string path, std::string prefix)
      : object_(object), path_(std::move(path)), prefix_(std::move(prefix)) {
    if (!object_.is_object()) throw Error(path_, where("") + "must be a JSON object");
  }

  const json* optional(const std::string& key) {
    known_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  const json& required(const std::string& key) {
    const json* value = optional(key);
    if (value == nullptr) throw Error(path_, "missing field '" + prefix_ + key + "'");
    return *value;
  }
  std::string string(const std::string& key, std::optional<std::string> fallback = std::nullopt) {
    const json* value = fallback ? optional(key) : &required(key);
    if (value == nullptr) return *fallback;
    if (!value->is_string()) throw Error(path_, where(key) + "must be a string, got " + value->dump());
    return value->get<std::string>();
  }
  std::string choice(const std::string& key, std::initializer_list<const char*> allowed) {
    std::string value = string(key);
    std::string list;
    for (const char* a : allowed) {
      if (value == a) return value;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    throw Error(path_, where(key) + "is \"" + value + "\", expected one of " + list);
  }
  int64_t positive_int(const std::string& key, int64_t fallback) {
    const json* value = optional(key);
    if (value == nullptr) return fallback;
    if (!value->is_number_integer() || value->get<int64_t>() <= 0) {
      throw Error(path_, where(key) + "must be a positive integer, got " + value->dump());
    }
    return value->get<int64_t>();
  }
  double positive_number(const std::string& key, double fallback) {
    const json* value = optional(key);
    if (value == nullptr) return fallback;
    if (!value->is_number() || value->get<double>() <= 0) {
      throw Error(path_, where(key) + "must be a positive number, got " + value->dump());
    }
    return value->get<double>();
  }
  std::string where(const std::string& key) const { return "field '" + prefix_ + key + "' "; }
  // Call after reading every field.
  void reject_unknown() const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (known_.count(it.key()) == 0) {
        throw Error(path_, "unknown field '" + prefix_ + it.key() + "' (see models/README.md)");
      }
    }
  }

 private:
  const json& object_;
  std::string path_;
  std::string prefix_;
  std::set<std::string> known_;
};

ClipArchitecture parse_architecture(const json& object, const std::string& path) {
  FieldReader r(object, path, "architecture.");
  ClipArchitecture a;
  a.image_size = r.positive_int("image_size", a.image_size);
  a.patch_size = r.positive_int("patch_size", a.patch_size);
  a.vision_width = r.positive_int("vision_width", a.vision_width);
  a.vision_layers = r.positive_int("vision_layers", a.vision_layers);
  a.vision_heads = r.positive_int("vision_heads", a.vision_heads);
  a.text_width = r.positive_int("text_width", a.text_width);
  a.text_layers = r.positive_int("text_layers", a.text_layers);
  a.text_heads = r.positive_int("text_heads", a.text_heads);
  a.mlp_ratio = r.positive_number("mlp_ratio", a.mlp_ratio);
  a.context_length = r.positive_int("context_length", a.context_length);
  a.vocab_size = r.positive_int("vocab_size", a.vocab_size);
  a.embed_dim = r.positive_int("embed_dim", a.embed_dim);
  if (r.optional("activation") != nullptr) a.activation = r.choice("activation", {"gelu", "quick_gelu"});
  a.layer_norm_eps = r.positive_number("layer_norm_eps", a.layer_norm_eps);
  r.reject_unknown();
  if (a.image_size % a.patch_size != 0) {
    throw Error(path, "architecture.image_size " + std::to_string(a.image_size) +
                          " is not a multiple of patch_size " + std::to_string(a.patch_size));
  }
  if (a.vision_width % a.vision_heads != 0 || a.text_width % a.text_heads != 0) {
    throw Error(path, "architecture: widths must be multiples of their head counts");
  }
  return a;
}

bool is_hex_sha256(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

ModelCard load_model_card(const std::string& path) {
  // Depth-limited: a card is 3 levels deep, and a hostile one must not overflow the stack.
  const json root = parse_json_line(read_file(path), path);
  FieldReader r(root, path, "");
  ModelCard card;
  card.card_path = path;
  card.name = r.string("name");
  if (card.name.empty() || card.name.find_first_of("/\\ ") != std::string::npos) {
    throw Error(path, "field 'name' must be a non-empty name without '/', '\\' or spaces");
  }
  card.display_name = r.string("display_name", card.name);
  card.description = r.string("description", "");
  card.head = r.choice("head", {"pickscore", "hpsv2", "mps", "clip"});
  card.architecture = parse_architecture(r.required("architecture"), path);

  FieldReader checkpoint(r.required("checkpoint"), path, "checkpoint.");
  card.layout = checkpoint.choice("layout", {"huggingface", "open_clip", "mps"});
  const json& files = checkpoint.required("files");
  if (!files.is_array() || files.empty()) {
    throw Error(path, "field 'checkpoint.files' must be a non-empty array");
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    FieldReader f(files[i], path, "checkpoint.files[" + std::to_string(i) + "].");
    WeightFile wf;
    wf.name = f.string("name");
    if (wf.name.empty() || wf.name.find('/') != std::string::npos) {
      throw Error(path, f.where("name") + "must be a plain file name");
    }
    if (const json* sha = f.optional("sha256")) {
      if (!sha->is_string() || !is_hex_sha256(sha->get<std::string>())) {
        throw Error(path, f.where("sha256") + "must be 64 lowercase hex digits or null");
      }
      wf.sha256 = sha->get<std::string>();
    }
    f.reject_unknown();
    card.weight_files.push_back(std::move(wf));
  }
  checkpoint.reject_unknown();

  card.preprocess = r.choice("preprocess", {"openclip", "hf", "hpsv2"});
  FieldReader tokenizer(r.required("tokenizer"), path, "tokenizer.");
  card.tokenizer_mode = tokenizer.choice("mode", {"openclip", "hf"});
  card.tokenizer_pad = tokenizer.optional("pad") ? tokenizer.choice("pad", {"eot", "bang"})
                                                 : std::string(card.tokenizer_mode == "openclip"
                                                                   ? "bang" : "eot");
  tokenizer.reject_unknown();

  FieldReader source(r.required("source"), path, "source.");
  card.source_url = source.string("url");
  card.license = source.string("license");
  card.citation = source.string("citation", "");
  source.reject_unknown();
  card.obtain = r.string("obtain");
  card.convert = r.string("convert", "");
  r.reject_unknown();
  return card;
}

std::vector<ModelCard> load_model_cards(const std::vector<std::string>& dirs) {
  std::vector<ModelCard> cards;
  std::set<std::string> names;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> paths;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".json") paths.push_back(entry.path());
    }
    std::sort(paths.begin(), paths.end());
    for (const fs::path& p : paths) {
      ModelCard card = load_model_card(p.string());
      if (names.insert(card.name).second) cards.push_back(std::move(card));
    }
  }
  std::sort(cards.begin(), cards.end(),
            [](const ModelCard& a, const ModelCard& b) { return a.name < b.name; });
  return cards;
}

ModelCard find_model_card(const std::vector<std::string>& dirs, const std::string& name) {
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) {
    return load_model_card(name);
  }
  std::vector<ModelCard> cards = load_model_cards(dirs);
  std::string known;
  for (ModelCard& card : cards) {
    if (card.name == name) return std::move(card);
    known += (known.empty() ? "" : ", ") + card.name;
  }
  std::string searched;
  for (const std::string& d : dirs) searched += (searched.empty() ? "" : ", ") + d;
  throw Error(name, "unknown model; known models: " + (known.empty() ? "(none)" : known) +
                        " (cards searched in " + searched + ")");
}

}  // namespace prefscore
