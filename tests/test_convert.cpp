// scripts/convert_checkpoint.py on the tiny fixture weights saved in the official pickled formats
// by scripts/make_checkpoint_fixtures.py (run first, into a temporary folder): an HPS v2 style
// {'state_dict': ...} .pt, an MPS style whole pickled model whose classes are not importable, and
// a transformers pytorch_model.bin state dict.
// The converted files must hold exactly the original tensors (the fixtures are float16, as the
// releases are) under the official key names, and load into prefscore with no missing or unused
// tensor. Needs Debian's python3-torch (scripts/setup.sh installs it).
#include <torch/torch.h>

#include <filesystem>

#include "prefscore/clip.h"
#include "prefscore/clip_config.h"
#include "prefscore/heads.h"
#include "prefscore/safetensors_torch.h"
#include "prefscore/weights.h"
#include "test_utils.h"

using prefscore::SafetensorsFile;
using prefscore::testing::data_path;

namespace {

namespace fs = std::filesystem;

// The official-format checkpoints, written once per test run.
std::string checkpoint(const std::string& name) {
  static const std::string dir = [] {
    const std::string out = (fs::temp_directory_path() / "prefscore_convert_fixtures").string();
    fs::remove_all(out);
    const auto r = prefscore::testing::run_command(
        "/usr/bin/python3 " + std::string(PREFSCORE_SOURCE_DIR) +
        "/scripts/make_checkpoint_fixtures.py " + out);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return out;
  }();
  return dir + "/" + name;
}

prefscore::testing::CliResult convert(const std::string& input, const std::string& output,
                                      const std::string& flags = "") {
  const std::string script = std::string(PREFSCORE_SOURCE_DIR) + "/scripts/convert_checkpoint.py";
  return prefscore::testing::run_command("/usr/bin/python3 " + script + " " + flags + " " + input +
                                         " " + output);
}

// Every tensor of `original` is in `converted`, equal after casting to the converted dtype, and
// nothing else is.
void require_same_tensors(const SafetensorsFile& converted, const SafetensorsFile& original) {
  REQUIRE(converted.tensors().size() == original.tensors().size());
  for (const auto& info : original.tensors()) {
    INFO(info.name);
    REQUIRE(converted.contains(info.name));
    const at::Tensor got = prefscore::tensor_view(converted, info.name);
    const at::Tensor want = prefscore::tensor_view(original, info).to(got.scalar_type());
    CHECK(torch::equal(got, want));
  }
}

}  // namespace

TEST_CASE("HPS v2 .pt ({'state_dict': ...}) converts to the open_clip tensors", "[convert]") {
  const std::string out = (fs::temp_directory_path() / "prefscore_convert_hps.safetensors").string();
  const auto r = convert(checkpoint("hps_tiny.pt"), out);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("62 tensors, sha256 "));
  const auto converted = SafetensorsFile::open(out);
  require_same_tensors(converted, SafetensorsFile::open(data_path("models/openclip/open_clip_model.safetensors")));
  CHECK(converted.at("visual.proj").dtype == prefscore::DType::kF16);

  // It loads into the open_clip layout with nothing missing or unused.
  prefscore::Weights w(SafetensorsFile::open(out), prefscore::weight_layout("open_clip"),
                       {c10::Device(c10::kCPU), c10::kFloat});
  const prefscore::ClipModel model(
      prefscore::clip_architecture_from_open_clip_config(data_path("models/openclip/open_clip_config.json")), w);
  CHECK_NOTHROW(w.finish());
  fs::remove(out);
}

TEST_CASE("--dtype bf16 stores every tensor as bf16, which loads without conversion", "[convert]") {
  const std::string out = (fs::temp_directory_path() / "prefscore_convert_bf16.safetensors").string();
  const auto r = convert(checkpoint("hps_tiny.pt"), out, "--dtype bf16");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const auto converted = SafetensorsFile::open(out);
  for (const auto& info : converted.tensors()) CHECK(info.dtype == prefscore::DType::kBF16);
  // The values are the checkpoint's float16 values rounded to bf16, as prefscore rounds them at
  // load: compared with the same checkpoint converted keeping its dtype.
  const std::string kept = (fs::temp_directory_path() / "prefscore_convert_f16.safetensors").string();
  REQUIRE(convert(checkpoint("hps_tiny.pt"), kept).exit_code == 0);
  const auto original = SafetensorsFile::open(kept);
  REQUIRE(original.tensors().size() == converted.tensors().size());
  for (const auto& info : original.tensors()) {
    INFO(info.name);
    CHECK(info.dtype == prefscore::DType::kF16);
    CHECK(torch::equal(prefscore::tensor_view(converted, info.name),
                       prefscore::tensor_view(original, info).to(torch::kBFloat16)));
  }

  // In bf16 the model from this file is the model from the float16 file, converted at load.
  const auto arch = prefscore::clip_architecture_from_open_clip_config(
      data_path("models/openclip/open_clip_config.json"));
  const prefscore::RunOptions bf16{c10::Device(c10::kCPU), c10::kBFloat16};
  const auto embeds = [&](const std::string& file) {
    torch::InferenceMode guard;
    prefscore::Weights w(SafetensorsFile::open(file), prefscore::weight_layout("open_clip"), bf16);
    const prefscore::ClipModel model(arch, w);
    w.finish();
    torch::manual_seed(0);
    return model.encode_image(torch::randn({2, 3, arch.image_size, arch.image_size})).embeds;
  };
  CHECK(torch::equal(embeds(out), embeds(kept)));
  fs::remove(out);
  fs::remove(kept);
}

TEST_CASE("MPS whole pickled model converts without MPS's classes", "[convert]") {
  const std::string out = (fs::temp_directory_path() / "prefscore_convert_mps.safetensors").string();
  const auto r = convert(checkpoint("mps_tiny.pth"), out);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const auto converted = SafetensorsFile::open(out);
  // The non-persistent rotary cache (pos_emb) is left out, as MPS's state_dict() leaves it out.
  require_same_tensors(converted, SafetensorsFile::open(data_path("models/mps/mps_model.safetensors")));

  prefscore::Weights w(SafetensorsFile::open(out), prefscore::weight_layout("mps"),
                       {c10::Device(c10::kCPU), c10::kFloat});
  const prefscore::ClipModel model(
      prefscore::clip_architecture_from_hf_config(data_path("models/mps/config.json")), w);
  const prefscore::MpsHead head(w);
  CHECK(head.layers() == 2);
  CHECK_NOTHROW(w.finish());
  fs::remove(out);
}

TEST_CASE("converter errors are one clear line", "[convert]") {
  const auto missing = convert("/nonexistent.pt", "/tmp/x.safetensors");
  CHECK(missing.exit_code != 0);
  CHECK_THAT(missing.err, Catch::Contains("/nonexistent.pt: no such file"));
  const auto not_torch = convert(data_path("cards/tiny-hf.json"), "/tmp/prefscore_convert_bad.safetensors");
  CHECK(not_torch.exit_code != 0);
  CHECK_FALSE(fs::exists("/tmp/prefscore_convert_bad.safetensors"));
}

TEST_CASE("transformers pytorch_model.bin (a plain state dict) converts to the CLIPModel tensors", "[convert]") {
  const std::string out = (fs::temp_directory_path() / "prefscore_convert_pick.safetensors").string();
  const auto r = convert(checkpoint("pickscore_tiny.bin"), out);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  require_same_tensors(SafetensorsFile::open(out), SafetensorsFile::open(data_path("models/hf/model.safetensors")));
  fs::remove(out);
}
