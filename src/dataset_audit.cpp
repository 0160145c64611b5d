#include "prefscore/dataset_audit.h"

#include <algorithm>

#include "prefscore/error.h"
#include "prefscore/inputs.h"

namespace prefscore {
namespace {

// The folder's images; what could not be listed (an unreadable sub-folder, a dangling link) is
// added to `audit`'s skipped lines, listing warnings (a symlink loop) to its warnings.
std::vector<std::string> listed_images(const std::string& dir, DatasetAudit* audit) {
  ImageListing listing = collect_image_files({dir});
  if (listing.files.empty()) throw Error(dir, "no image files found (.png .jpg .jpeg .webp .bmp)");
  audit->skipped.insert(audit->skipped.end(), listing.skipped.begin(), listing.skipped.end());
  audit->warnings.insert(audit->warnings.end(), listing.warnings.begin(), listing.warnings.end());
  return std::move(listing.files);
}

}  // namespace

DatasetAudit audit_folders(const Scorer& scorer, const std::string& real_dir,
                           const std::string& synthetic_dir, const AuditOptions& options,
                           const ImageEmbeddingOptions& embedding) {
  DatasetAudit audit;
  audit.model = scorer.model_name();
  audit.options = options;
  const std::vector<std::string> real_listed = listed_images(real_dir, &audit);
  const std::vector<std::string> synthetic_listed = listed_images(synthetic_dir, &audit);
  ImageEmbeddings real = embed_image_files(scorer, real_listed, embedding);
  ImageEmbeddings synthetic = embed_image_files(scorer, synthetic_listed, embedding);
  for (ImageEmbeddings* set : {&real, &synthetic}) {
    audit.skipped.insert(audit.skipped.end(), set->skipped.begin(), set->skipped.end());
    audit.warnings.insert(audit.warnings.end(), set->warnings.begin(), set->warnings.end());
    audit.images_encoded += set->images_encoded;
    audit.cache_hits += set->cache_hits;
  }
  for (const auto& [set, dir] :
       {std::pair{&real, &real_dir}, std::pair{&synthetic, &synthetic_dir}}) {
    if (set->files.size() < static_cast<std::size_t>(std::max(2, options.folds))) {
      throw Error(*dir, std::to_string(set->files.size()) + " readable images, the " +
                            std::to_string(options.folds) + " folds need at least " +
                            std::to_string(std::max(2, options.folds)));
    }
  }
  audit.result = audit_embeddings(real.embeds, synthetic.embeds, options);
  audit.real_files = std::move(real.files);
  audit.synthetic_files = std::move(synthetic.files);
  return audit;
}

nlohmann::ordered_json audit_report_json(const DatasetAudit& audit) {
  const AuditResult& r = audit.result;
  nlohmann::ordered_json j;
  j["model"] = audit.model;
  j["unrealistic"] = r.unrealistic;
  j["unrepresentative"] = r.unrepresentative;
  j["unvaried"] = r.unvaried;
  j["unoriginal"] = r.unoriginal;
  j["mean_nearest_synthetic_distance"] = r.mean_nearest_synthetic_distance;
  j["real_images"] = audit.real_files.size();
  j["synthetic_images"] = audit.synthetic_files.size();
  j["options"] = {{"folds", audit.options.folds},
                  {"seed", audit.options.seed},
                  {"l2", audit.options.l2},
                  {"max_iterations", audit.options.max_iterations},
                  {"tolerance", audit.options.tolerance},
                  {"duplicate_cosine", audit.options.duplicate_cosine},
                  {"memorisation_cosine", audit.options.memorisation_cosine}};
  nlohmann::ordered_json synthetic = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < r.synthetic.size(); ++i) {
    const SyntheticImageAudit& s = r.synthetic[i];
    synthetic.push_back({{"image", audit.synthetic_files[i]},
                         {"p_synthetic", s.p_synthetic},
                         {"fold", s.fold},
                         {"nearest_real", audit.real_files[s.nearest_real]},
                         {"nearest_real_cosine", s.nearest_real_cosine}});
  }
  j["synthetic"] = std::move(synthetic);
  nlohmann::ordered_json real = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < r.real.size(); ++i) {
    const RealImageAudit& a = r.real[i];
    real.push_back({{"image", audit.real_files[i]},
                    {"p_real", a.p_real},
                    {"fold", a.fold},
                    {"nearest_synthetic", audit.synthetic_files[a.nearest_synthetic]},
                    {"nearest_synthetic_distance", a.nearest_synthetic_distance}});
  }
  j["real"] = std::move(real);
  nlohmann::ordered_json unvaried = nlohmann::ordered_json::array();
  for (const SimilarPair& p : r.unvaried_pairs) {
    unvaried.push_back({{"a", audit.synthetic_files[p.a]},
                        {"b", audit.synthetic_files[p.b]},
                        {"cosine", p.cosine}});
  }
  j["unvaried_pairs"] = std::move(unvaried);
  nlohmann::ordered_json unoriginal = nlohmann::ordered_json::array();
  for (const SimilarPair& p : r.unoriginal_pairs) {
    unoriginal.push_back({{"synthetic", audit.synthetic_files[p.a]},
                          {"real", audit.real_files[p.b]},
                          {"cosine", p.cosine}});
  }
  j["unoriginal_pairs"] = std::move(unoriginal);
  j["skipped"] = audit.skipped;
  return j;
}

}  // namespace prefscore
