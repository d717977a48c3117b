// Tests of the header-only C++ wrapper (include/resnext.hpp) against the built library.
//   test_cpp [TESTDATA_DIR]      (default: $RESNEXT_TESTDATA, else "testdata")
// Prints one line per check that fails, one line per test, and "N passed, M failed" last.
#include "test_common.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

using resnext_test::class_ids;

namespace {

int g_passed = 0;
int g_failed = 0;
std::string g_models;
std::string g_photos;

void record(bool ok, const char* expr, const char* file, int line) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("  FAIL %s:%d: %s\n", file, line, expr);
  }
}

#define CHECK(expr) record(static_cast<bool>(expr), #expr, __FILE__, __LINE__)

// Runs `body`, expecting a resnext::Error with `code`; checks the message is not empty.
#define CHECK_THROWS_CODE(body, want)                                                       \
  do {                                                                                      \
    bool thrown_ = false;                                                                   \
    try {                                                                                   \
      body;                                                                                 \
    } catch (const resnext::Error& e_) {                                                    \
      thrown_ = true;                                                                       \
      record(e_.code() == (want), #body " -> " #want, __FILE__, __LINE__);                  \
      if (e_.code() != (want)) std::printf("    got code %u: %s\n", unsigned(e_.code()), e_.what()); \
      record(std::string(e_.what()).size() > 0, "non-empty message", __FILE__, __LINE__);   \
    }                                                                                       \
    if (!thrown_) record(false, #body " did not throw", __FILE__, __LINE__);                \
  } while (0)

void run_test(const char* name, const std::function<void()>& test) {
  const int failed_before = g_failed;
  try {
    test();
  } catch (const resnext::Error& e) {
    ++g_failed;
    std::printf("  FAIL unexpected resnext::Error code %u: %s\n", unsigned(e.code()), e.what());
  } catch (const std::exception& e) {
    ++g_failed;
    std::printf("  FAIL unexpected exception: %s\n", e.what());
  }
  std::printf("%s %s\n", g_failed == failed_before ? "ok  " : "FAIL", name);
  std::fflush(stdout);
}

// Checks the invariants of one result: `k` predictions, sorted, labels, scores in [0, 1].
void check_result(const resnext::Classification& r, size_t k, bool labels) {
  CHECK(r.predictions.size() == k);
  for (size_t i = 0; i < r.predictions.size(); ++i) {
    const auto& p = r.predictions[i];
    CHECK(p.score >= 0.0f && p.score <= 1.0f);
    CHECK(labels ? !p.label.empty() : p.label.empty());
    if (i > 0) CHECK(r.predictions[i - 1].score >= p.score);
  }
  CHECK(r.timings.decode_ms >= 0.0 && r.timings.preprocess_ms >= 0.0 && r.timings.postprocess_ms >= 0.0);
  CHECK(r.timings.inference_ms > 0.0);
}

/// Whether RESNEXT_REQUIRE_CPU_KERNELS=1 (CI) makes the kernel family of the CPU flag `flag`
/// mandatory: it does where Linux lists the flag in /proc/cpuinfo, so a build or a detection that
/// lost a family fails there, and a CPU without the instructions skips it.
bool cpu_kernel_required(const std::string& flag) {
  const char* env = std::getenv("RESNEXT_REQUIRE_CPU_KERNELS");
  if (env == nullptr || std::string(env) != "1") return false;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    std::string word;
    while (words >> word)
      if (word == flag) return true;
  }
  return false;
}

bool same_ids_and_scores(const resnext::Classification& a, const resnext::Classification& b, float tol) {
  if (class_ids(a) != class_ids(b)) return false;
  for (size_t i = 0; i < a.predictions.size(); ++i) {
    if (std::fabs(a.predictions[i].score - b.predictions[i].score) > tol) return false;
    if (a.predictions[i].label != b.predictions[i].label) return false;
  }
  return true;
}

// Compile-time properties of the wrapper.
static_assert(!std::is_copy_constructible<resnext::Classifier>::value, "Classifier is move-only");
static_assert(!std::is_copy_assignable<resnext::Classifier>::value, "Classifier is move-only");
static_assert(std::is_nothrow_move_constructible<resnext::Classifier>::value, "noexcept move");
static_assert(std::is_nothrow_move_assignable<resnext::Classifier>::value, "noexcept move");
static_assert(!std::is_copy_constructible<resnext::ClassifierOptions>::value, "ClassifierOptions is move-only");
static_assert(std::is_nothrow_move_constructible<resnext::ClassifierOptions>::value, "noexcept move");
static_assert(std::is_base_of<std::runtime_error, resnext::Error>::value, "Error is a runtime_error");
// The former name stays as a deprecated alias (using it warns).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static_assert(std::is_same<resnext::Options, resnext::ClassifierOptions>::value, "Options is an alias");
#pragma GCC diagnostic pop

}  // namespace

int main(int argc, char** argv) {
  std::string root = argc > 1 ? argv[1] : (std::getenv("RESNEXT_TESTDATA") ? std::getenv("RESNEXT_TESTDATA") : "testdata");
  g_models = root + "/models";
  g_photos = root + "/preprocess";
  const std::string chelsea = g_photos + "/chelsea.png";
  const std::string coffee = g_photos + "/coffee.png";
  const std::string rocket = g_photos + "/rocket.jpg";
  std::printf("resnext %s, test data in %s\n", resnext::version().c_str(), root.c_str());

  run_test("version", [] {
    const std::string want = std::to_string(RESNEXT_VERSION_MAJOR) + "." + std::to_string(RESNEXT_VERSION_MINOR) + "." +
                             std::to_string(RESNEXT_VERSION_PATCH);
    CHECK(resnext::version() == want);
    CHECK(resnext::result_message(RESNEXT_RESULT_IO).size() > 0);
  });

  // Loaded in the second translation unit and moved out of it.
  resnext::Classifier r50 = resnext_test::load_r50(g_models, 2);
  resnext::Classification chelsea_ref;

  run_test("classify_file: 5 sorted predictions with labels", [&] {
    CHECK(r50.top_k() == 5);
    chelsea_ref = r50.classify_file(chelsea);
    check_result(chelsea_ref, 5, true);
    for (const auto& p : chelsea_ref.predictions) CHECK(p.class_id < 1000);
    std::printf("    chelsea top-1: %u %s %.4f (inference %.1f ms)\n", chelsea_ref.predictions[0].class_id,
                chelsea_ref.predictions[0].label.c_str(), double(chelsea_ref.predictions[0].score),
                chelsea_ref.timings.inference_ms);
  });

  run_test("classify_encoded equals classify_file", [&] {
    const std::vector<uint8_t> bytes = resnext_test::read_bytes(chelsea);
    CHECK(!bytes.empty());
    const auto a = r50.classify_encoded(bytes);
    const auto b = r50.classify_encoded(bytes.data(), bytes.size());
    check_result(a, 5, true);
    CHECK(same_ids_and_scores(a, chelsea_ref, 1e-6f));
    CHECK(same_ids_and_scores(a, b, 0.0f));
    CHECK(same_ids_and_scores(r50.classify(resnext::Image::file(chelsea)), chelsea_ref, 1e-6f));
  });

  run_test("Image::yuv420 equals NV21; with_roi equals the cropped image", [&] {
    // chelsea.nv21.bin: 450 x 300, tight. As planes: V at the chroma start, U one byte later.
    const std::vector<uint8_t> nv21 = resnext_test::read_bytes(g_photos + "/chelsea.nv21.bin");
    const size_t ylen = 450u * 300u, clen = nv21.size() - ylen;
    CHECK(clen == 450u * 150u);
    const auto expected = r50.classify(resnext::Image::pixels(nv21.data(), nv21.size(), 450, 300, 0, resnext::PixelFormat::Nv21));
    const auto planar = r50.classify(resnext::Image::yuv420(nv21.data(), ylen, nv21.data() + ylen + 1, clen - 1,
                                                            nv21.data() + ylen, clen - 1, 450, 450, 2, 450, 300));
    CHECK(same_ids_and_scores(expected, planar, 0.0f));
    // A region: the same as the cropped NV21 frame (x, y even).
    const uint32_t x = 100, y = 50, w = 224, h = 200;
    std::vector<uint8_t> crop;
    for (uint32_t r = 0; r < h; r++) crop.insert(crop.end(), nv21.begin() + (y + r) * 450 + x, nv21.begin() + (y + r) * 450 + x + w);
    for (uint32_t r = 0; r < h / 2; r++) {
      const auto row = nv21.begin() + ylen + (y / 2 + r) * 450 + x;
      crop.insert(crop.end(), row, row + w);
    }
    const auto cropped = r50.classify(resnext::Image::pixels(crop.data(), crop.size(), w, h, 0, resnext::PixelFormat::Nv21));
    const auto roi = r50.classify(resnext::Image::pixels(nv21.data(), nv21.size(), 450, 300, 0, resnext::PixelFormat::Nv21).with_roi(x, y, w, h));
    CHECK(same_ids_and_scores(cropped, roi, 0.0f));
    const auto planar_roi = r50.classify(resnext::Image::yuv420(nv21.data(), ylen, nv21.data() + ylen + 1, clen - 1, nv21.data() + ylen,
                                                                clen - 1, 450, 450, 2, 450, 300)
                                             .with_roi(x, y, w, h));
    CHECK(same_ids_and_scores(cropped, planar_roi, 0.0f));
    CHECK_THROWS_CODE(r50.classify(resnext::Image::yuv420(nv21.data(), ylen, nv21.data() + ylen + 1, clen - 2, nv21.data() + ylen,
                                                          clen - 1, 450, 450, 2, 450, 300)),
                      RESNEXT_RESULT_BUFFER_SIZE);
    CHECK_THROWS_CODE(r50.classify(resnext::Image::pixels(nv21.data(), nv21.size(), 450, 300, 0, resnext::PixelFormat::Nv21).with_roi(1, 0, 8, 8)),
                      RESNEXT_RESULT_INVALID_ARGUMENT);
  });

  run_test("classify_pixels: strided RGB8 and all rotations", [&] {
    // chelsea.rgb8.bin: 450 x 300, row stride 1362 bytes.
    const std::vector<uint8_t> rgb = resnext_test::read_bytes(g_photos + "/chelsea.rgb8.bin");
    CHECK(rgb.size() == 1362u * 300u);
    for (uint32_t rotation : {0u, 90u, 180u, 270u}) {
      check_result(r50.classify_pixels(rgb, 450, 300, 1362, resnext::PixelFormat::Rgb8, rotation), 5, true);
    }
    const std::vector<uint8_t> nv21 = resnext_test::read_bytes(g_photos + "/chelsea.nv21.bin");
    CHECK(!nv21.empty());
    check_result(r50.classify_pixels(nv21.data(), nv21.size(), 450, 300, 0, resnext::PixelFormat::Nv21, 90), 5, true);
  });

  run_test("classify_batch equals single calls", [&] {
    const std::vector<uint8_t> coffee_bytes = resnext_test::read_bytes(coffee);
    const std::vector<uint8_t> rgb = resnext_test::read_bytes(g_photos + "/chelsea.rgb8.bin");
    std::vector<resnext::Image> images;
    images.push_back(resnext::Image::file(chelsea));
    images.push_back(resnext::Image::encoded(coffee_bytes));
    images.push_back(resnext::Image::file(rocket));
    images.push_back(resnext::Image::pixels(rgb, 450, 300, 1362, resnext::PixelFormat::Rgb8, 90));
    const std::vector<resnext::Classification> batch = r50.classify_batch(images);
    CHECK(batch.size() == 4);
    if (batch.size() != 4) return;
    const resnext::Classification singles[4] = {
        r50.classify_file(chelsea), r50.classify_encoded(coffee_bytes), r50.classify_file(rocket),
        r50.classify_pixels(rgb, 450, 300, 1362, resnext::PixelFormat::Rgb8, 90)};
    for (size_t i = 0; i < 4; ++i) {
      check_result(batch[i], 5, true);
      CHECK(class_ids(batch[i]) == class_ids(singles[i]));
      CHECK(same_ids_and_scores(batch[i], singles[i], 1e-3f));
    }
    // An empty batch is INVALID_ARGUMENT, as in C and Java.
    CHECK_THROWS_CODE(r50.classify_batch({}), RESNEXT_RESULT_INVALID_ARGUMENT);
  });

  run_test("allow_truncated_images: a cut JPEG is refused, then classified when allowed", [&] {
    std::vector<uint8_t> jpeg = resnext_test::read_bytes(rocket);
    CHECK(jpeg.size() > 3000);
    jpeg.resize(jpeg.size() / 2);
    CHECK_THROWS_CODE(r50.classify_encoded(jpeg), RESNEXT_RESULT_IMAGE_DECODE);
    try {
      r50.classify_encoded(jpeg);
    } catch (const resnext::Error& e) {
      CHECK(std::string(e.what()).find("truncated") != std::string::npos);
    }
    resnext::Classifier lenient(
        resnext::ClassifierOptions().model_path(g_models + "/r50_torch.onnx").threads(1).allow_truncated_images());
    check_result(lenient.classify_encoded(jpeg), 5, true);
  });

  run_test("info() fields", [&] {
    const resnext::ModelInfo info = r50.info();
    CHECK(info.input_name == "input");
    CHECK(info.output_name == "output");
    CHECK(info.width == 224 && info.height == 224);
    CHECK(info.classes == 1000);
    CHECK(info.precision == resnext::Precision::Fp32);
    CHECK(info.output_kind == resnext::OutputKind::Logits);
    CHECK(!info.input_is_f16);
    CHECK(info.parameters > 24000000u && info.parameters < 26000000u);  // ResNeXt50_32x4d, ~25 M
    CHECK(info.threads == 2);
    CHECK(info.top_k == 5);
    CHECK(info.backend == "tract");
    CHECK(!info.compute.empty());
  });

  run_test("errors are resnext::Error with the right code", [&] {
    CHECK_THROWS_CODE(r50.classify_file(g_photos + "/no_such_photo.png"), RESNEXT_RESULT_IO);
    CHECK_THROWS_CODE(resnext::Classifier{g_models + "/no_such_model.onnx"}, RESNEXT_RESULT_IO);
    CHECK_THROWS_CODE(resnext::Classifier{g_models + "/random.onnx"}, RESNEXT_RESULT_MODEL_DECODE);
    CHECK_THROWS_CODE(resnext::Classifier{g_models + "/truncated.onnx"}, RESNEXT_RESULT_MODEL_DECODE);
    const std::vector<uint8_t> rgb(100 * 100 * 3 - 1, 128);  // one byte short
    CHECK_THROWS_CODE(r50.classify_pixels(rgb, 100, 100, 0, resnext::PixelFormat::Rgb8), RESNEXT_RESULT_BUFFER_SIZE);
    const std::vector<uint8_t> full(100 * 100 * 3, 128);
    CHECK_THROWS_CODE(r50.classify_pixels(full, 100, 100, 0, resnext::PixelFormat::Rgb8, 45),
                      RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_THROWS_CODE(r50.classify_pixels(full, 100, 100, 0, static_cast<resnext::PixelFormat>(42)),
                      RESNEXT_RESULT_INVALID_ARGUMENT);
    const std::vector<uint8_t> garbage(64, 7);
    CHECK_THROWS_CODE(r50.classify_encoded(garbage), RESNEXT_RESULT_IMAGE_DECODE);
    CHECK_THROWS_CODE(resnext::ClassifierOptions().top_k(0), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_THROWS_CODE(resnext::Classifier{resnext::ClassifierOptions()}, RESNEXT_RESULT_NULL_ARGUMENT);  // no model
    // The message is the library's detail, captured at throw time.
    try {
      r50.classify_file(g_photos + "/no_such_photo.png");
    } catch (const resnext::Error& e) {
      CHECK(std::string(e.what()).find("no_such_photo.png") != std::string::npos);
      CHECK(e.code_message() == resnext::result_message(RESNEXT_RESULT_IO));
      r50.classify_file(chelsea);  // a later success does not change the caught message
      CHECK(std::string(e.what()).find("no_such_photo.png") != std::string::npos);
    }
    // A batch fails as a whole; the message names the image.
    std::vector<resnext::Image> images{resnext::Image::file(chelsea), resnext::Image::file(g_photos + "/nope.png")};
    try {
      r50.classify_batch(images);
      CHECK(false);
    } catch (const resnext::Error& e) {
      CHECK(e.code() == RESNEXT_RESULT_IO);
      CHECK(std::string(e.what()).find("image 1") != std::string::npos);
    }
    // Catchable as std::runtime_error.
    bool caught = false;
    try {
      r50.classify_file(g_photos + "/no_such_photo.png");
    } catch (const std::runtime_error&) {
      caught = true;
    }
    CHECK(caught);
  });

  run_test("moved-from objects", [&] {
    resnext::Classifier a = resnext_test::load_r50(g_models, 1);
    CHECK(a.valid());
    resnext::Classifier b(std::move(a));
    CHECK(!a.valid() && a.capi() == nullptr);  // NOLINT(bugprone-use-after-move): tested on purpose
    CHECK(b.valid());
    CHECK_THROWS_CODE(a.classify_file(chelsea), RESNEXT_RESULT_CLOSED);
    CHECK_THROWS_CODE(a.top_k(), RESNEXT_RESULT_CLOSED);
    CHECK_THROWS_CODE(a.info(), RESNEXT_RESULT_CLOSED);
    CHECK_THROWS_CODE(a.classify_batch({resnext::Image::file(chelsea)}), RESNEXT_RESULT_CLOSED);
    CHECK(same_ids_and_scores(b.classify_file(chelsea), chelsea_ref, 1e-6f));
    a = std::move(b);  // move-assign back into the moved-from object
    CHECK(a.valid() && !b.valid());
    CHECK(a.top_k() == 5);
    resnext::Classifier& alias = a;
    a = std::move(alias);  // self-move leaves it usable
    CHECK(a.valid());

    resnext::ClassifierOptions o1;
    resnext::ClassifierOptions o2(std::move(o1));
    CHECK(!o1.valid() && o2.valid());
    CHECK_THROWS_CODE(o1.top_k(3), RESNEXT_RESULT_CLOSED);
    CHECK_THROWS_CODE(resnext::Classifier c(o1), RESNEXT_RESULT_CLOSED);
  });

  run_test("4 threads share one classifier", [&] {
    const std::vector<std::string> paths{chelsea, coffee, rocket};
    std::vector<std::vector<uint32_t>> expected;
    for (const auto& p : paths) expected.push_back(class_ids(r50.classify_file(p)));
    CHECK(resnext_test::classify_concurrently(r50, paths, expected, 4, 2) == 0);
  });

  run_test("custom preprocessing, no labels, log callback (set from the other TU)", [&] {
    std::atomic<int> records{0};
    resnext_test::install_counting_logger(&records, resnext::LogLevel::Debug);
    resnext::ClassifierOptions options;
    options.model_path(g_models + "/tiny_torch.onnx")
        .preprocess(73, 64, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f})
        .no_labels()
        .top_k(3)
        .threads(1);
    resnext::Classifier tiny(options);
    const auto r = tiny.classify_file(coffee);
    resnext::clear_log_callback();
    check_result(r, 3, false);
    CHECK(tiny.info().classes == 10 && tiny.info().width == 64);
    CHECK(records.load() > 0);
    std::printf("    %d log records\n", records.load());
    // The default preset does not fit the 64 x 64 model.
    CHECK_THROWS_CODE(resnext::Classifier{resnext::ClassifierOptions().model_path(g_models + "/tiny_torch.onnx").no_labels()},
                      RESNEXT_RESULT_INVALID_ARGUMENT);
    // Ten classes against the 1000 ImageNet labels: a label mismatch.
    CHECK_THROWS_CODE((resnext::Classifier{resnext::ClassifierOptions()
                                               .model_path(g_models + "/tiny_torch.onnx")
                                               .preprocess(73, 64, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f})}),
                      RESNEXT_RESULT_LABELS);
    // A throwing callback does not cross into the library.
    resnext::set_log_callback([](resnext::LogLevel, const std::string&) { throw std::runtime_error("boom"); },
                              resnext::LogLevel::Trace);
    resnext::Classifier again(options);
    resnext::clear_log_callback();
    check_result(again.classify_file(coffee), 3, false);
  });

  run_test("model_fd equals model_path; bad ranges are refused", [&] {
    const std::string path = g_models + "/tiny_torch.onnx";
    const std::vector<uint8_t> model = resnext_test::read_bytes(path);
    CHECK(!model.empty());
    // The model appended after 100 bytes of something else, as an asset inside an APK.
    const std::string packed = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                               "/cpp-packed-model.bin";
    {
      std::FILE* f = std::fopen(packed.c_str(), "wb");
      CHECK(f != nullptr);
      if (!f) return;
      const std::vector<uint8_t> head(100, 0x5a);
      CHECK(std::fwrite(head.data(), 1, head.size(), f) == head.size());
      CHECK(std::fwrite(model.data(), 1, model.size(), f) == model.size());
      std::fclose(f);
    }
    const int fd = open(packed.c_str(), O_RDONLY);
    CHECK(fd >= 0);
    std::remove(packed.c_str());
    if (fd < 0) return;
    auto tiny = [&] {
      return std::move(resnext::ClassifierOptions()
                           .preprocess(73, 64, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f})
                           .no_labels()
                           .threads(1));
    };
    const int64_t len = static_cast<int64_t>(model.size());
    resnext::Classifier by_path(tiny().model_path(path));
    resnext::Classifier by_fd(tiny().model_fd(fd, 100, len));
    CHECK(lseek(fd, 0, SEEK_CUR) == 0);  // read with pread: the descriptor's offset is unchanged
    const auto a = by_path.classify_file(chelsea);
    const auto b = by_fd.classify_file(chelsea);
    CHECK(same_ids_and_scores(a, b, 0.0f));
    CHECK_THROWS_CODE(tiny().model_fd(fd, 100, len + 1), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_THROWS_CODE(tiny().model_fd(fd, -1, len), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_THROWS_CODE(tiny().model_fd(fd, 100, 0), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_THROWS_CODE(tiny().model_fd(-1, 0, len), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_THROWS_CODE(resnext::Classifier(tiny().model_fd(fd, 100, len).max_model_bytes(model.size() - 1)),
                      RESNEXT_RESULT_LIMIT_EXCEEDED);
    // The range 99..: one byte of the header in front: not an ONNX model
    CHECK_THROWS_CODE(resnext::Classifier(tiny().model_fd(fd, 99, len)), RESNEXT_RESULT_MODEL_DECODE);
    CHECK(close(fd) == 0);  // still the caller's, still open
  });

  run_test("score_threshold drops low predictions; label() by class id", [&] {
    const resnext::Classification all = r50.classify_file(chelsea);
    CHECK(all.predictions.size() == 5);
    if (all.predictions.size() != 5) return;
    // A threshold between the 2nd and 3rd scores keeps exactly two.
    const float cut = (all.predictions[1].score + all.predictions[2].score) / 2.0f;
    resnext::Classifier strict(std::move(resnext::ClassifierOptions()
                                             .model_path(g_models + "/r50_torch.onnx")
                                             .threads(1)
                                             .score_threshold(cut)));
    const auto kept = strict.classify_file(chelsea);
    CHECK(kept.predictions.size() == 2);
    CHECK(class_ids(kept) == std::vector<uint32_t>({all.predictions[0].class_id, all.predictions[1].class_id}));
    resnext::Classifier none(std::move(resnext::ClassifierOptions()
                                           .model_path(g_models + "/r50_torch.onnx")
                                           .threads(1)
                                           .score_threshold(1.0f)));
    CHECK(none.classify_file(chelsea).predictions.empty() || all.predictions[0].score >= 1.0f);
    CHECK_THROWS_CODE(resnext::ClassifierOptions().score_threshold(-0.5f), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_THROWS_CODE(resnext::ClassifierOptions().score_threshold(1.5f), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_THROWS_CODE(resnext::ClassifierOptions().score_threshold(std::nanf("")), RESNEXT_RESULT_INVALID_ARGUMENT);
    // label(): the prediction's label, "tabby, tabby cat" for 281, out of range throws
    CHECK(r50.label(all.predictions[0].class_id) == all.predictions[0].label);
    CHECK(r50.label(281) == "tabby, tabby cat");
    CHECK_THROWS_CODE(r50.label(1000), RESNEXT_RESULT_INVALID_ARGUMENT);
  });

  run_test("tract engine options: float16 widening and bf16 products reported by info()", [&] {
    auto tiny = [&](const char* model) {
      return std::move(resnext::ClassifierOptions()
                           .model_path(g_models + "/" + model)
                           .preprocess(73, 64, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f})
                           .no_labels()
                           .threads(1));
    };
    const std::string widened = resnext::Classifier(tiny("tiny_fp16.onnx")).info().compute;
    // On the float kernel layer (AVX-512F, or AVX2 without it) the convolutions' float16
    // weights stay float16.
    auto on_layer = [](const std::string& compute) {
      return compute.rfind("f32 on AVX-512: ", 0) == 0 || compute.rfind("f32 on AVX2: ", 0) == 0;
    };
    const bool layer = on_layer(widened);
    CHECK(widened.rfind("f32", 0) == 0 &&
          widened.find(layer ? "(float16 weights kept as float16, widened in the kernel)"
                             : "(float16 weights widened at load)") != std::string::npos);
    CHECK(resnext::Classifier(tiny("tiny_fp16.onnx").widen_fp16(false)).info().compute == "f16");
    const std::string bf16 = resnext::Classifier(tiny("tiny_torch.onnx").bf16_matmul()).info().compute;
    if (bf16.rfind("bf16 on AMX: ", 0) == 0 || cpu_kernel_required("amx_bf16")) {
      CHECK(bf16 ==
            "bf16 on AMX: 11 of 17 convolutions, 4 f32 on AVX-512, 4 residual additions fused, 1 max "
            "pool in NHWC");
    } else if (bf16.find("not available") == std::string::npos || cpu_kernel_required("avx512_bf16")) {
      // No AMX: the convolutions with whole 32-channel groups on AVX512-BF16.
      CHECK(bf16 ==
            "bf16 on AVX512-BF16: 10 of 17 convolutions, 5 f32 on AVX-512, 4 residual additions "
            "fused, 1 max pool in NHWC");
    } else {
      std::printf("    bf16 products not available here: %s\n", bf16.c_str());
    }
    // FP32 on the float kernel layer where the CPU has AVX-512F or AVX2, else tract's kernels.
    const std::string fp32 = resnext::Classifier(tiny("tiny_torch.onnx").bf16_matmul(false)).info().compute;
    CHECK(fp32 == "f32" || on_layer(fp32));
  });

  run_test("cpu_kernels: OFF, SCALAR and AVX2 reach the classifier and info() names them", [&] {
    auto tiny = [&](const char* model, resnext::CpuKernels kernels) {
      return std::move(resnext::ClassifierOptions()
                           .model_path(g_models + "/" + model)
                           .preprocess(73, 64, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f})
                           .no_labels()
                           .threads(1)
                           .cpu_kernels(kernels));
    };
    using K = resnext::CpuKernels;
    CHECK(resnext::Classifier(tiny("tiny_torch.onnx", K::Off)).info().compute == "f32");
    CHECK(resnext::Classifier(tiny("tiny_torch.onnx", K::Scalar)).info().compute ==
          "f32 on scalar reference kernels: 15 of 17 convolutions, 4 residual additions fused, 1 "
          "max pool in NHWC");
    // AVX2 even on an AVX-512 CPU; refused where the CPU has no AVX2 (required by CI where
    // Linux lists it).
    try {
      const std::string fp32 = resnext::Classifier(tiny("tiny_torch.onnx", K::Avx2)).info().compute;
      CHECK(fp32 ==
            "f32 on AVX2: 15 of 17 convolutions, 4 residual additions fused, 1 max pool in NHWC");
      const std::string int8 = resnext::Classifier(tiny("tiny_int8.onnx", K::Avx2)).info().compute;
      CHECK(int8.rfind("int8 on AVX2: 17 of 17 convolutions, ", 0) == 0);
    } catch (const resnext::Error& e) {
      CHECK(e.code() == RESNEXT_RESULT_BACKEND_UNAVAILABLE && !cpu_kernel_required("avx2"));
      std::printf("    AVX2 kernels not available here: %s\n", e.what());
    }
  });

  run_test("Options setters with valid input take effect", [&] {
    auto tiny = [&] {
      return std::move(resnext::ClassifierOptions()
                           .model_path(g_models + "/tiny_torch.onnx")
                           .preprocess(73, 64, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f})
                           .threads(1));
    };
    const std::string labels = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                               "/cpp-labels-10.txt";
    {
      std::FILE* f = std::fopen(labels.c_str(), "w");
      CHECK(f != nullptr);
      if (!f) return;
      for (int i = 0; i < 10; ++i) std::fprintf(f, "tiny class %d\n", i);
      std::fclose(f);
    }
    // labels_file: each prediction's label is its class's line
    resnext::Classifier named(tiny().labels_file(labels));
    const auto by_file = named.classify_file(chelsea);
    check_result(by_file, 5, true);
    for (const auto& p : by_file.predictions) CHECK(p.label == "tiny class " + std::to_string(p.class_id));
    std::remove(labels.c_str());
    // imagenet_labels after labels_file: back to the 1000 ImageNet labels, a mismatch for 10
    // classes, which allow_label_mismatch accepts (class i gets ImageNet label i)
    CHECK_THROWS_CODE(resnext::Classifier(tiny().labels_file(labels).imagenet_labels()), RESNEXT_RESULT_LABELS);
    CHECK_THROWS_CODE(resnext::Classifier(tiny().allow_label_mismatch(true).allow_label_mismatch(false)),
                      RESNEXT_RESULT_LABELS);
    resnext::Classifier imagenet(tiny().imagenet_labels().allow_label_mismatch());
    const auto by_imagenet = imagenet.classify_file(chelsea);
    CHECK(class_ids(by_imagenet) == class_ids(by_file));
    check_result(by_imagenet, 5, true);
    for (const auto& p : by_imagenet.predictions) CHECK(p.label.rfind("tiny class", 0) != 0);
    // model_bytes: the same model from memory, the same results
    const std::vector<uint8_t> model = resnext_test::read_bytes(g_models + "/tiny_torch.onnx");
    CHECK(!model.empty());
    resnext::Classifier from_bytes(std::move(resnext::ClassifierOptions()
                                                 .model_bytes(model)
                                                 .preprocess(73, 64, {0.485f, 0.456f, 0.406f},
                                                             {0.229f, 0.224f, 0.225f})
                                                 .threads(1)
                                                 .labels_file(labels + ".missing")
                                                 .no_labels()));
    const auto by_bytes = from_bytes.classify_file(chelsea);
    CHECK(class_ids(by_bytes) == class_ids(by_file));  // the same model, bit for bit
    for (size_t i = 0; i < by_bytes.predictions.size() && i < by_file.predictions.size(); ++i) {
      CHECK(by_bytes.predictions[i].score == by_file.predictions[i].score);
      CHECK(by_bytes.predictions[i].label.empty());  // no_labels() after labels_file() wins
    }
    // max_model_bytes: one byte under the model's size is LIMIT_EXCEEDED, its size loads
    CHECK_THROWS_CODE(resnext::Classifier(tiny().no_labels().max_model_bytes(model.size() - 1)),
                      RESNEXT_RESULT_LIMIT_EXCEEDED);
    resnext::Classifier exact(tiny().no_labels().max_model_bytes(model.size()));
    CHECK(exact.info().classes == 10);
    // max_pixels: an image of the limit classifies, one row more is LIMIT_EXCEEDED
    resnext::Classifier small(tiny().no_labels().max_pixels(48 * 32));
    const std::vector<uint8_t> pixels(48 * 33 * 3, 100);
    check_result(small.classify_pixels(pixels.data(), 48 * 32 * 3, 48, 32, 0, resnext::PixelFormat::Rgb8), 5, false);
    CHECK_THROWS_CODE(small.classify_pixels(pixels, 48, 33, 0, resnext::PixelFormat::Rgb8), RESNEXT_RESULT_LIMIT_EXCEEDED);
    CHECK_THROWS_CODE(small.classify_file(chelsea), RESNEXT_RESULT_LIMIT_EXCEEDED);
    // UTF8 and PANIC reach C++ callers as resnext::Error with their codes
    CHECK_THROWS_CODE(small.classify_file("\xff\xfe.png"), RESNEXT_RESULT_UTF8);
    resnext::Classifier panics(std::move(resnext::ClassifierOptions()
                                             .model_path(g_models + "/fails_at_run.onnx")
                                             .preprocess(73, 64, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f})
                                             .threads(1)
                                             .no_labels()));
    CHECK_THROWS_CODE(panics.classify_file(chelsea), RESNEXT_RESULT_PANIC);
    check_result(small.classify_pixels(pixels.data(), 48 * 32 * 3, 48, 32, 0, resnext::PixelFormat::Rgb8), 5, false);
  });

  run_test("ONNX Runtime backend: CPU provider, GPU fail and fallback policies", [&] {
    const char* lib = std::getenv("ORT_DYLIB_PATH");
    // As in the Rust and Java tests, a missing runtime is a failure, not a skip.
    CHECK(lib != nullptr && *lib != '\0');  // ORT_DYLIB_PATH must name libonnxruntime.so
    if (!lib || !*lib) return;
    auto ort = [&] {
      return std::move(resnext::ClassifierOptions()
                           .model_path(g_models + "/tiny_torch.onnx")
                           .preprocess(73, 64, {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f})
                           .no_labels()
                           .backend(resnext::Backend::Ort)
                           .ort_library(lib));
    };
    resnext::Classifier cpu(ort());
    CHECK(cpu.info().backend == "ort" && cpu.info().provider == "cpu");
    check_result(cpu.classify_file(coffee), 5, false);
    CHECK_THROWS_CODE(resnext::Classifier(ort().execution_provider(resnext::Provider::Cuda, 0)),
                      RESNEXT_RESULT_PROVIDER_UNAVAILABLE);
    resnext::Classifier fallback(ort()
                                     .execution_provider(resnext::Provider::TensorRt, 0)
                                     .tensorrt_precision(true)
                                     .tensorrt_batch_profile(1, 4, 8)
                                     .fallback(resnext::Fallback::NextProvider));
    CHECK(fallback.info().provider == "cpu");
    CHECK_THROWS_CODE(ort().tensorrt_batch_profile(4, 2, 1), RESNEXT_RESULT_INVALID_ARGUMENT);
  });

  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  std::fflush(stdout);
  return g_failed == 0 ? 0 : 1;
}
