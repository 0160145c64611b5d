// `prefscore audit` as a library call: the image files under a real and a synthetic folder,
// embedded through one scorer's image tower (image_embeddings.h), audited (audit.h, where every
// score's formula is), and the report as one JSON object.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "prefscore/audit.h"
#include "prefscore/image_embeddings.h"

namespace prefscore {

struct DatasetAudit {
  std::string model;                    // Scorer::model_name()
  std::vector<std::string> real_files;  // embedded, sorted as collect_image_files lists them
  std::vector<std::string> synthetic_files;
  AuditResult result;
  AuditOptions options;
  std::vector<std::string> skipped;   // what could not be listed, then unreadable images
  std::vector<std::string> warnings;  // unusable cache entries
  std::size_t images_encoded = 0;
  std::size_t cache_hits = 0;
};

// Throws Error(folder, ...) when a folder has no image file or, after skipping unreadable ones,
// fewer images than the folds need.
DatasetAudit audit_folders(const Scorer& scorer, const std::string& real_dir,
                           const std::string& synthetic_dir, const AuditOptions& options,
                           const ImageEmbeddingOptions& embedding);

// {"model", "unrealistic", "unrepresentative", "unvaried", "unoriginal",
//  "mean_nearest_synthetic_distance", "real_images", "synthetic_images", "options": {...},
//  "synthetic": [{"image", "p_synthetic", "fold", "nearest_real", "nearest_real_cosine"}],
//  "real": [{"image", "p_real", "fold", "nearest_synthetic", "nearest_synthetic_distance"}],
//  "unvaried_pairs": [{"a", "b", "cosine"}] (two synthetic images),
//  "unoriginal_pairs": [{"synthetic", "real", "cosine"}], "skipped": ["path: reason"]}
// Images are named by path.
nlohmann::ordered_json audit_report_json(const DatasetAudit& audit);

}  // namespace prefscore
