// `prefscore tokenize --mode openclip|hf --input FILE.jsonl`: the CLIP token ids and attention mask
// of each prompt, one JSON object per input line; the tool for checking what a metric's text tower
// is fed.
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "prefscore/error.h"
#include "prefscore/tokenizer.h"

namespace prefscore::cli {
namespace {

struct TokenizeOptions {
  std::string mode;
  std::string pad = "eot";
  std::string vocab;
  std::string input;
  std::size_t max_prompt_bytes = kDefaultMaxTextBytes;
};

// Reads JSON lines {"text": ...} from `in` and prints {"line", "ids", "attention_mask"} for each;
// a bad line is reported on stderr and skipped. Returns the number of skipped lines.
int tokenize_lines(std::istream& in, const std::string& name, const ClipTokenizer& tokenizer,
                   const TokenizerOptions& options) {
  std::string line;
  int line_number = 0;
  int skipped = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
    const std::string where = name + ":" + std::to_string(line_number);
    try {
      const nlohmann::json row = nlohmann::json::parse(line);
      if (!row.is_object()) {
        throw Error(where,
                    std::string("expected a JSON object {\"text\": ...}, got ") + row.type_name());
      }
      if (!row.contains("text")) throw Error(where, "missing the field \"text\"");
      if (!row["text"].is_string()) {
        throw Error(where,
                    std::string("\"text\" must be a string, got ") + row["text"].type_name());
      }
      const TokenizedText tokens = tokenizer.encode(row["text"].get<std::string>(), options, where);
      nlohmann::ordered_json out;
      out["line"] = line_number;
      out["ids"] = tokens.ids;
      out["attention_mask"] = tokens.attention_mask;
      std::cout << out.dump() << "\n";
    } catch (const nlohmann::json::exception& e) {
      std::cerr << "prefscore: skipped: " << where << ": not valid JSON (" << e.what() << ")\n";
      ++skipped;
    } catch (const Error& e) {
      std::cerr << "prefscore: skipped: " << e.what() << "\n";
      ++skipped;
    }
  }
  return skipped;
}

void run_tokenize(const TokenizeOptions& opts, Context& context) {
  const ClipTokenizer tokenizer(opts.vocab.empty() ? context.vocab_path : opts.vocab);
  TokenizerOptions options =
      opts.mode == "openclip"
          ? TokenizerOptions::open_clip()
          : TokenizerOptions::hf(opts.pad == "bang" ? PadToken::kBang : PadToken::kEndOfText);
  options.max_text_bytes = opts.max_prompt_bytes;
  int skipped = 0;
  if (opts.input == "-") {
    skipped = tokenize_lines(std::cin, "<stdin>", tokenizer, options);
  } else {
    std::ifstream file(opts.input, std::ios::binary);
    if (!file) throw Error(opts.input, "cannot open the input file");
    skipped = tokenize_lines(file, opts.input, tokenizer, options);
    if (file.bad()) throw Error(opts.input, "read failed");
  }
  if (skipped > 0) {
    std::cerr << "prefscore: " << skipped << " input line(s) skipped\n";
    context.exit_code = kExitSkipped;
  }
}

}  // namespace

void add_tokenize(CLI::App& app, Context& context) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize",
      "Print the 77 CLIP token ids and attention mask of each prompt (JSON lines with \"text\")");
  cmd->add_option("--mode", opts->mode,
                  "Tokenizer to reproduce: openclip (open_clip/HPS v2: ftfy, html unescape, pad 0) "
                  "or hf (transformers CLIPTokenizerFast: PickScore, MPS)")
      ->required()
      ->check(CLI::IsMember({"openclip", "hf"}));
  CLI::Option* pad =
      cmd->add_option("--pad", opts->pad,
                      "HF pad token: eot (<|endoftext|>, id 49407) or bang (\"!\", id 0, which is "
                      "then split out of the text) [default: eot; --mode hf only]")
          ->check(CLI::IsMember({"eot", "bang"}));
  cmd->add_option("--vocab", opts->vocab,
                  "BPE vocabulary (.txt.gz) [default: the bundled "
                  "models/vocab/bpe_simple_vocab_16e6.txt.gz]");
  cmd->add_option("--input", opts->input,
                  "JSON lines file, one {\"text\": ...} per line; - = stdin")
      ->required();
  cmd->add_option("--max-prompt-bytes", opts->max_prompt_bytes,
                  "Refuse (skip) texts longer than this, in UTF-8 bytes [default: 65536]")
      ->check(CLI::PositiveNumber);
  cmd->callback([opts, pad, &context] {
    if (opts->mode == "openclip" && pad->count() > 0) {
      throw CLI::ValidationError("--pad", "applies to --mode hf only (open_clip pads with 0)");
    }
    run_tokenize(*opts, context);
  });
}

}  // namespace prefscore::cli
