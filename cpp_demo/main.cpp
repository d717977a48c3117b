// resnext_demo: classifies images with the resnext C++ wrapper (resnext.hpp) and, with --bench,
// measures the latency of batches of 1, 4 and 8 images.
#include "resnext.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

const char* const kUsage =
    "usage: resnext_demo --model PATH [options] IMAGE...\n"
    "  --model PATH            ONNX classifier (required)\n"
    "  --preset wsl-224|fix-320  preprocessing preset (default wsl-224)\n"
    "  --resize-short N        custom preprocessing: resize the short side to N\n"
    "  --crop N                custom preprocessing: centre crop N (must match the model input)\n"
    "  --mean R,G,B            custom normalization mean in [0, 1] units (default ImageNet)\n"
    "  --std R,G,B             custom normalization std (default ImageNet)\n"
    "  --top-k N               predictions per image (default 5)\n"
    "  --threads N             worker threads of one inference (default 0: all cores)\n"
    "  --labels FILE           label file (default: built-in ImageNet-1k)\n"
    "  --no-labels             no labels (for models that are not ImageNet-1k)\n"
    "  --allow-label-mismatch  accept a label count different from the class count\n"
    "  --bench                 also measure batch 1/4/8 latency with the first image repeated\n"
    "  --iters N               timed iterations per batch size (default 10)\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "error: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

uint32_t parse_u32(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || value[0] == '-' || v > 0xFFFFFFFFul) {
    usage_error(flag + " expects a non-negative integer, got '" + value + "'");
  }
  return static_cast<uint32_t>(v);
}

std::array<float, 3> parse_triple(const std::string& flag, const std::string& value) {
  std::array<float, 3> out{};
  const char* p = value.c_str();
  for (size_t i = 0; i < 3; ++i) {
    char* end = nullptr;
    out[i] = std::strtof(p, &end);
    if (end == p || (i < 2 && *end != ',') || (i == 2 && *end != '\0')) {
      usage_error(flag + " expects three comma-separated numbers, got '" + value + "'");
    }
    p = end + 1;
  }
  return out;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw resnext::Error(RESNEXT_RESULT_IO, "cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const char* precision_name(resnext::Precision p) {
  switch (p) {
    case resnext::Precision::Fp32: return "fp32";
    case resnext::Precision::Fp16: return "fp16";
    case resnext::Precision::Int8: return "int8";
  }
  return "?";
}

struct Args {
  std::string model;
  resnext::Preset preset = resnext::Preset::Wsl224;
  uint32_t resize_short = 0, crop = 0, top_k = 5, threads = 0, iters = 10;
  bool custom = false, mean_set = false, std_set = false;
  std::array<float, 3> mean{{0.485f, 0.456f, 0.406f}};
  std::array<float, 3> stddev{{0.229f, 0.224f, 0.225f}};
  std::string labels;
  bool no_labels = false, allow_mismatch = false, bench = false;
  std::vector<std::string> images;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::printf("%s", kUsage);
      std::exit(0);
    } else if (arg == "--model") {
      a.model = value();
    } else if (arg == "--preset") {
      const std::string p = value();
      if (p == "wsl-224") a.preset = resnext::Preset::Wsl224;
      else if (p == "fix-320") a.preset = resnext::Preset::Fix320;
      else usage_error("--preset must be wsl-224 or fix-320, got '" + p + "'");
    } else if (arg == "--resize-short") {
      a.resize_short = parse_u32(arg, value());
      a.custom = true;
    } else if (arg == "--crop") {
      a.crop = parse_u32(arg, value());
      a.custom = true;
    } else if (arg == "--mean") {
      a.mean = parse_triple(arg, value());
      a.custom = true;
    } else if (arg == "--std") {
      a.stddev = parse_triple(arg, value());
      a.custom = true;
    } else if (arg == "--top-k") {
      a.top_k = parse_u32(arg, value());
    } else if (arg == "--threads") {
      a.threads = parse_u32(arg, value());
    } else if (arg == "--labels") {
      a.labels = value();
    } else if (arg == "--no-labels") {
      a.no_labels = true;
    } else if (arg == "--allow-label-mismatch") {
      a.allow_mismatch = true;
    } else if (arg == "--bench") {
      a.bench = true;
    } else if (arg == "--iters") {
      a.iters = parse_u32(arg, value());
      if (a.iters == 0) usage_error("--iters must be at least 1");
    } else if (arg.size() > 1 && arg[0] == '-') {
      usage_error("unknown option " + arg);
    } else {
      a.images.push_back(arg);
    }
  }
  if (a.model.empty()) usage_error("--model is required");
  if (a.images.empty()) usage_error("no image given");
  return a;
}

void print_result(const std::string& name, const resnext::Classification& r) {
  std::printf("%s\n", name.c_str());
  for (size_t i = 0; i < r.predictions.size(); ++i) {
    const resnext::Prediction& p = r.predictions[i];
    std::printf("  #%zu  class %4u  score %.5f  %s\n", i + 1, p.class_id, static_cast<double>(p.score),
                p.label.empty() ? "-" : p.label.c_str());
  }
  const resnext::Timings& t = r.timings;
  std::printf("  timings: decode %.2f ms, preprocess %.2f ms, inference %.2f ms, postprocess %.2f ms, total %.2f ms\n",
              t.decode_ms, t.preprocess_ms, t.inference_ms, t.postprocess_ms, t.total_ms());
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double q) {
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::max<size_t>(1, std::min(rank, sorted.size()));
  return sorted[rank - 1];
}

double median(const std::vector<double>& sorted) {
  const size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

void bench(const resnext::Classifier& classifier, const std::string& image, uint32_t iters) {
  const std::vector<uint8_t> bytes = read_file(image);  // decoded each run, as a real call would
  std::printf("bench: %s repeated, %u timed iterations per batch size (after 1 warm-up)\n", image.c_str(), iters);
  std::printf("  batch  median ms     p90 ms  ms/image  images/s\n");
  for (size_t batch : {size_t(1), size_t(4), size_t(8)}) {
    const std::vector<resnext::Image> images(batch, resnext::Image::encoded(bytes));
    classifier.classify_batch(images);  // warm-up: the first run of a batch size builds its plan
    std::vector<double> ms;
    for (uint32_t i = 0; i < iters; ++i) {
      const auto start = std::chrono::steady_clock::now();
      const auto results = classifier.classify_batch(images);
      const auto stop = std::chrono::steady_clock::now();
      if (results.size() != batch) throw resnext::Error(RESNEXT_RESULT_INFERENCE, "wrong result count");
      ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    }
    std::sort(ms.begin(), ms.end());
    const double med = median(ms);
    std::printf("  %5zu  %9.2f  %9.2f  %8.2f  %8.2f\n", batch, med, percentile(ms, 0.9),
                med / static_cast<double>(batch), 1000.0 * static_cast<double>(batch) / med);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  try {
    resnext::ClassifierOptions options;
    options.model_path(args.model).preset(args.preset).top_k(args.top_k).threads(args.threads);
    if (args.custom) {
      // Start from the preset's geometry; override what was given.
      const bool fix = args.preset == resnext::Preset::Fix320;
      const uint32_t resize = args.resize_short ? args.resize_short : (fix ? 320u : 256u);
      const uint32_t crop = args.crop ? args.crop : std::min(resize, fix ? 320u : 224u);
      options.preprocess(resize, crop, args.mean, args.stddev);
    }
    if (args.no_labels) options.no_labels();
    else if (!args.labels.empty()) options.labels_file(args.labels);
    if (args.allow_mismatch) options.allow_label_mismatch();

    const resnext::Classifier classifier(options);
    const resnext::ModelInfo info = classifier.info();
    std::printf("resnext %s | model %s: %ux%u input, %u classes, %s, %s, %.2f M params | %s (%s), %u threads\n",
                resnext::version().c_str(), args.model.c_str(), info.width, info.height, info.classes,
                precision_name(info.precision), info.output_kind == resnext::OutputKind::Logits ? "logits" : "probabilities",
                static_cast<double>(info.parameters) / 1e6, info.backend.c_str(), info.compute.c_str(), info.threads);

    int failures = 0;
    for (const std::string& image : args.images) {
      try {
        print_result(image, classifier.classify_file(image));
      } catch (const resnext::Error& e) {
        std::fprintf(stderr, "error: %s: %s (code %u)\n", image.c_str(), e.what(), static_cast<unsigned>(e.code()));
        ++failures;
      }
    }
    if (args.bench) bench(classifier, args.images.front(), args.iters);
    return failures == 0 ? 0 : 1;
  } catch (const resnext::Error& e) {
    std::fprintf(stderr, "error: %s (code %u: %s)\n", e.what(), static_cast<unsigned>(e.code()), e.code_message().c_str());
    return 1;
  }
}
