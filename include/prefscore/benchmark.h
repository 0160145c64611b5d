// Throughput of the CLIP image tower on random full-size weights, no download needed (`prefscore
// bench --synthetic`): writes an open_clip-layout checkpoint with a model card's dims, loads it
// the way a user's checkpoint is loaded, and times the image tower. FLOPs are counted analytically
// and set against an in-process measured GEMM peak of the same precision, so the result says how
// close the model runs to what this machine's matrix units can do. Optionally measures how often
// the precision under test orders pairs of images as fp32 does (the decisions a preference metric
// makes), on the same random model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "prefscore/clip_config.h"
#include "prefscore/run_options.h"

namespace prefscore {

struct ClipBenchmarkOptions {
  ClipArchitecture architecture;
  RunOptions run;
  int64_t batch_size;       // images per encode_image call
  int iters;                // timed calls after the first (the first is time to first score)
  bool compare_fp32;        // also run every timed batch in fp32 and compare decisions
  std::string scratch_dir;  // where the random checkpoint is written; it is deleted afterwards
  uint64_t seed;
};

struct PrecisionAgreement {
  int64_t images, prompts;
  int64_t pairs;              // image pairs × prompts whose order was compared
  double pairwise_agreement;  // fraction of those ordered as fp32 orders them (ties count as equal)
  double max_score_deviation;  // max |score − fp32 score|, score = 100 · cosine(image, prompt)
  // Standard deviation of the fp32 scores over the images of a prompt (mean over prompts): how far
  // apart the images are. Random weights embed every image nearly alike, so their pairs are
  // near-ties that a small deviation can reorder; trained models spread images much further.
  double score_spread;
  double min_embedding_cosine;  // min over images of cosine(image embedding, its fp32 embedding)
};

struct ClipBenchmarkResult {
  std::string precision;
  int threads;
  int64_t batch_size;
  int iters;
  double weights_mb;         // the checkpoint (float32) on disk
  double gflop_per_image;    // image tower, analytic
  double images_per_second;  // timed calls only
  double ms_per_image;
  double gflops;  // achieved: gflop_per_image · images_per_second
  // Large GEMMs in the same precision, timed between the timed model calls (so that both see the
  // same machine: on a shared machine the peak measured at another moment says little).
  double peak_gflops;
  std::string peak_kernel;       // what measured it: "onednn_prepacked" or "at::linear"
  double fraction_of_peak;       // gflops / peak_gflops
  double peak_rss_mb;            // VmHWM after loading and running in `precision` (before fp32)
  // Page faults per timed call (getrusage, the whole process). Each fresh page a call touches
  // costs one; on a virtual machine that is microseconds each, so thousands per call show up
  // in the rate (see README, "Our own parallel loops ran on one thread").
  double page_faults_per_call;
  double load_s;                 // open the weights and build the model
  double time_to_first_score_s;  // load + one prompt + the first batch of images, scored
  std::optional<PrecisionAgreement> vs_fp32;
};

ClipBenchmarkResult run_clip_benchmark(const ClipBenchmarkOptions& options);

// The image tower's FLOPs per image (2 per multiply-add): patch embedding, and per block the
// q/k/v, output and two MLP projections and the two attention products.
double image_tower_gflop(const ClipArchitecture& arch);

// Streams a random float32 open_clip checkpoint with `arch`'s dims (weights N(0, 0.02²), layer-norm
// weights 1) to `path`, one tensor at a time; returns its size in bytes.
uint64_t write_random_open_clip_checkpoint(const std::string& path, const ClipArchitecture& arch,
                                           uint64_t seed);

// The process's peak resident set (VmHWM), in MiB.
double peak_rss_mb();

}  // namespace prefscore
