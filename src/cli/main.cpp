// prefscore: score AI-generated images with learned human-preference metrics.
// main() resolves the environment once, registers the subcommands, and is the only place that
// catches errors and turns them into one stderr line and an exit code (../shared/STYLE.md §3).
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "commands.h"
#include "prefscore/cpu_buffer_reuse.h"
#include "prefscore/error.h"

namespace {

namespace fs = std::filesystem;
using prefscore::cli::Context;

constexpr const char* kExitStatusHelp =
    "EXIT STATUS:\n"
    "  0  success\n"
    "  1  fatal error (one line on stderr: prefscore: error: <file>: <problem>)\n"
    "  2  usage error (bad flags or arguments)\n"
    "  3  finished, but some inputs were reported on stderr and skipped\n"
    "  4  finished, but a --fail-under quality gate was missed\n"
    "  130, 143  stopped by SIGINT / SIGTERM at a checkpoint (score -o: --resume continues)\n"
    "A closed output pipe (e.g. `prefscore ... | head`) ends the run with status 0.\n";

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// Model cards: $PREFSCORE_MODELS (extra folder, searched first), then the cards next to the
// binary (installed: <prefix>/share/prefscore/models), then the source tree of a build-tree binary.
Context resolve_context(const char* argv0) {
  Context context;
  if (const char* extra = std::getenv("PREFSCORE_MODELS"); extra != nullptr && *extra != '\0') {
    context.card_dirs.emplace_back(extra);
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) exe = fs::path(argv0);
  const fs::path beside = exe.parent_path().parent_path() / "share" / "prefscore" / "models";
  for (const fs::path& dir :
       {beside, fs::path(PREFSCORE_INSTALL_DATA_DIR), fs::path(PREFSCORE_SOURCE_DATA_DIR)}) {
    if (fs::is_directory(dir, ec)) context.card_dirs.push_back(dir.string());
  }
  // The BPE vocabulary ships in the models folder (models/vocab/), next to the cards.
  for (const std::string& dir : context.card_dirs) {
    const fs::path vocab = fs::path(dir) / "vocab" / "bpe_simple_vocab_16e6.txt.gz";
    if (fs::is_regular_file(vocab, ec)) {
      context.vocab_path = vocab.string();
      break;
    }
  }
  if (context.vocab_path.empty()) {
    context.vocab_path = (fs::path(PREFSCORE_SOURCE_DATA_DIR) / "vocab" / "bpe_simple_vocab_16e6.txt.gz").string();
  }
  const std::string home = env_or("HOME", "");
  context.weights_home =
      env_or("PREFSCORE_HOME", home.empty() ? std::string(".cache/prefscore")
                                            : (fs::path(home) / ".cache" / "prefscore").string());
  context.shard_environment.slurm_array_task_id = env_or("SLURM_ARRAY_TASK_ID", "");
  context.shard_environment.slurm_array_task_count = env_or("SLURM_ARRAY_TASK_COUNT", "");
  context.shard_environment.slurm_array_task_min = env_or("SLURM_ARRAY_TASK_MIN", "");
  context.shard_environment.slurm_array_task_step = env_or("SLURM_ARRAY_TASK_STEP", "");
  context.shard_environment.job_completion_index = env_or("JOB_COMPLETION_INDEX", "");
  const std::string xdg_cache = env_or("XDG_CACHE_HOME", "");
  context.cache_dir = env_or(
      "PREFSCORE_CACHE_DIR",
      !xdg_cache.empty() ? (fs::path(xdg_cache) / "prefscore").string()
      : home.empty()     ? std::string(".cache/prefscore")
                         : (fs::path(home) / ".cache" / "prefscore").string());
  return context;
}

// LibTorch errors carry a C++ backtrace after the first line; users need only the first line.
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

extern "C" void exit_quietly_on_broken_pipe(int) { _exit(prefscore::cli::kExitOk); }

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, exit_quietly_on_broken_pipe);
  // Blocks of 1 MiB and more always come from mmap and go back to the system when freed. glibc
  // otherwise raises this threshold to the largest block freed so far, so the weights converted at
  // load and freed once packed (src/onednn_transformer.cpp) would stay resident on the heap: ViT-H
  // bf16 peaked at 2.9 GB instead of 2.1 GB.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  // Those blocks would then be fresh pages on every model call (~9,300 page faults per ViT-H
  // call of 4 images, costly on a VM); tensors of a size freed before reuse kept buffers instead.
  prefscore::reuse_cpu_buffers();
  Context context = resolve_context(argv[0]);
  context.command_line = "prefscore";
  for (int i = 1; i < argc; ++i) context.command_line += " " + std::string(argv[i]);

  CLI::App app{"prefscore " PREFSCORE_VERSION
               ": score AI-generated images with learned human-preference metrics "
               "(PickScore, HPS v2/v2.1, MPS, CLIP score)."};
  app.name("prefscore");
  app.set_version_flag("--version", std::string("prefscore ") + PREFSCORE_VERSION);
  app.require_subcommand(1);
  app.footer(std::string("\nModel cards are read from: $PREFSCORE_MODELS, then the built-in cards.\n"
                         "Weights are found with --weights PATH, else $PREFSCORE_HOME/<model>/\n"
                         "(default ~/.cache/prefscore/<model>/); nothing is ever downloaded.\n"
                         "A card's sha256 digests are checked on first use (--no-verify skips it)\n"
                         "and remembered in $PREFSCORE_CACHE_DIR (else $XDG_CACHE_HOME/prefscore,\n"
                         "else ~/.cache/prefscore).\n\n") +
             kExitStatusHelp);

  prefscore::cli::add_score(app, context);
  prefscore::cli::add_rank(app, context);
  prefscore::cli::add_compare(app, context);
  prefscore::cli::add_eval(app, context);
  prefscore::cli::add_embed(app, context);
  prefscore::cli::add_preprocess(app, context);
  prefscore::cli::add_tokenize(app, context);
  prefscore::cli::add_models(app, context);
  prefscore::cli::add_inspect(app, context);
  prefscore::cli::add_merge(app, context);
  prefscore::cli::add_bench(app, context);
  prefscore::cli::add_heatmap(app, context);
  prefscore::cli::add_audit(app, context);
  prefscore::cli::add_explain(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "prefscore: usage error: " << e.what() << "\n"
              << "Run `prefscore --help` (or `prefscore <command> --help`) for usage.\n";
    return prefscore::cli::kExitUsage;
  } catch (const prefscore::Error& e) {
    std::cout.flush();
    std::cerr << "prefscore: error: " << e.what() << "\n";
    return prefscore::cli::kExitFatal;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "prefscore: error: " << first_line(e.what()) << "\n";
    return prefscore::cli::kExitFatal;
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "prefscore: error: <stdout>: write failed\n";
    return prefscore::cli::kExitFatal;
  }
  return context.exit_code;
}
