// Image embeddings of files through a tiny scorer: rows equal the image tower run here by hand, a
// bad file is skipped in place, and a second pass with a cache reads the same values back.
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "pipeline_fixture.h"
#include "prefscore/embedding_cache.h"
#include "prefscore/image_embeddings.h"
#include "prefscore/image_torch.h"
#include "tensor_test_utils.h"
#include "tiny_scorer.h"

using prefscore::testing::data_path;

TEST_CASE("embed_image_files: rows are the image tower's, bad files skipped, cache reused",
          "[image_embeddings]") {
  const auto scorer = prefscore::testing::tiny_scorer("tiny-hf.json", "models/hf");
  const auto dir = prefscore::testing::fresh_temp_dir("image_embeddings");
  std::ofstream(dir / "broken.png") << "not a png";
  std::vector<std::string> files;
  for (const std::string& f : prefscore::testing::pipeline_images()) {
    files.push_back(data_path("pipeline/inputs/" + f));
  }
  files.insert(files.begin() + 2, (dir / "broken.png").string());

  prefscore::ImageEmbeddingOptions options;
  options.batch_size = 3;  // batches straddle the bad file
  const prefscore::ImageEmbeddings got = prefscore::embed_image_files(*scorer, files, options);
  REQUIRE(got.files.size() == 4);
  REQUIRE(got.files[2] == files[3]);
  REQUIRE(got.skipped.size() == 1);
  REQUIRE_THAT(got.skipped[0], Catch::StartsWith((dir / "broken.png").string() + ": not an image"));
  REQUIRE(got.images_encoded == 4);
  REQUIRE(got.embeds.rows == 4);
  REQUIRE(got.embeds.cols == 32);

  torch::InferenceMode inference;
  for (std::size_t i = 0; i < 4; ++i) {
    const at::Tensor pixels = prefscore::stack_pixel_values(
        {prefscore::preprocess_file(got.files[i], scorer->preprocess_options())});
    const at::Tensor want = scorer->encode_images(pixels).embeds.to(torch::kFloat32)[0];
    const at::Tensor row = torch::from_blob(const_cast<float*>(got.embeds.row(i)), {32});
    // Batches of 1 here, of up to 3 there: float rounding of the matmuls only.
    prefscore::testing::require_allclose(row, want, /*atol=*/1e-6, /*rtol=*/1e-5,
                                         "row " + std::to_string(i));
  }

  const prefscore::EmbeddingCache cache((dir / "cache").string());
  options.cache = &cache;
  const auto first = prefscore::embed_image_files(*scorer, files, options);
  const auto second = prefscore::embed_image_files(*scorer, files, options);
  REQUIRE(first.images_encoded == 4);
  REQUIRE(first.cache_hits == 0);
  REQUIRE(second.images_encoded == 0);
  REQUIRE(second.cache_hits == 4);
  REQUIRE(second.embeds.values == first.embeds.values);
  REQUIRE(first.embeds.values == got.embeds.values);
}
