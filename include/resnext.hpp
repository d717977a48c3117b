/// \file resnext.hpp
/// Header-only C++17 wrapper over the resnext C ABI (`resnext.h`).
///
/// Link against `libresnext.so` or `libresnext.a` (see `resnext.pc`). Everything here is
/// `inline`: the header may be included from any number of translation units.
///
/// Conventions:
/// - Ownership: `ClassifierOptions` and `Classifier` own their C handle and free it in their destructor.
///   They are move-only; a moved-from object is empty (`valid()` is false) and any call on it
///   throws `resnext::Error` with `RESNEXT_RESULT_CLOSED`. Everything returned (`Prediction`,
///   `Classification`, `ModelInfo`, strings) is a copy owned by the caller: it stays valid after
///   the classifier is destroyed.
/// - Errors: every failure throws `resnext::Error` (a `std::runtime_error`) carrying the
///   `resnext_result` code and the library's detail message, copied at throw time.
/// - Thread safety: a `Classifier` may be shared by any number of threads for the `const`
///   calls (`classify_*`, `info()`, `top_k()`); moving, assigning or destroying it needs
///   exclusive access. `ClassifierOptions` is not thread-safe (build it on one thread).
///
/// Example:
/// \code
///   resnext::Classifier classifier(resnext::ClassifierOptions().model_path("model.onnx").top_k(5));
///   for (const auto& p : classifier.classify_file("cat.jpg").predictions)
///     std::printf("%u %s %.4f\n", p.class_id, p.label.c_str(), p.score);
/// \endcode

#ifndef RESNEXT_HPP
#define RESNEXT_HPP

#include "resnext.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace resnext {

/// An error reported by the library (or by the wrapper for a moved-from object).
/// `what()` is the detail from `resnext_last_error_message()` copied when the error was
/// thrown (or the code's generic description when the library gave none).
class Error : public std::runtime_error {
 public:
  /// Builds an error from a result code and a message.
  Error(resnext_result result, const std::string& message) : std::runtime_error(message), code_(result) {}

  /// The `resnext_result` value of the failed call (never `RESNEXT_RESULT_OK`).
  resnext_result code() const noexcept { return code_; }

  /// The library's static description of `code()` (e.g. "a file could not be read").
  std::string code_message() const { return resnext_result_message(code_); }

 private:
  resnext_result code_;
};

namespace detail {

/// Throws an `Error` for `code`, with the calling thread's last error message (copied now).
[[noreturn]] inline void throw_error(resnext_result code) {
  const char* detail = resnext_last_error_message();
  std::string message = (detail != nullptr && *detail != '\0') ? std::string(detail)
                                                               : std::string(resnext_result_message(code));
  throw Error(code, message);
}

/// Throws unless `code` is `RESNEXT_RESULT_OK`.
inline void check(resnext_result code) {
  if (code != RESNEXT_RESULT_OK) throw_error(code);
}

/// Throws `RESNEXT_RESULT_CLOSED` when `handle` is NULL (a moved-from object).
template <typename T>
inline T* require(T* handle, const char* what) {
  if (handle == nullptr) {
    throw Error(RESNEXT_RESULT_CLOSED, std::string("resnext::") + what + " is empty (moved from)");
  }
  return handle;
}

/// A copy of a library-owned C string (NULL becomes "").
inline std::string copy(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

struct OptionsDeleter {
  void operator()(resnext_options* p) const noexcept { resnext_options_free(p); }
};
struct ClassifierDeleter {
  void operator()(resnext_classifier* p) const noexcept { resnext_classifier_free(p); }
};

}  // namespace detail

/// The library version, e.g. "0.1.0".
inline std::string version() { return resnext_version(); }

/// Pixel layouts of raw buffers (`resnext_pixel_format`).
enum class PixelFormat : uint32_t {
  Rgb8 = RESNEXT_PIXEL_FORMAT_RGB8,    ///< 3 bytes a pixel: R, G, B.
  Bgr8 = RESNEXT_PIXEL_FORMAT_BGR8,    ///< 3 bytes a pixel: B, G, R.
  Rgba8 = RESNEXT_PIXEL_FORMAT_RGBA8,  ///< 4 bytes a pixel: R, G, B, A (alpha ignored).
  Bgra8 = RESNEXT_PIXEL_FORMAT_BGRA8,  ///< 4 bytes a pixel: B, G, R, A (alpha ignored).
  Nv21 = RESNEXT_PIXEL_FORMAT_NV21,    ///< Y plane, then interleaved V/U at half resolution; even width and height.
  Nv12 = RESNEXT_PIXEL_FORMAT_NV12,    ///< Y plane, then interleaved U/V at half resolution; even width and height.
};

/// Preprocessing presets (`resnext_preset`).
enum class Preset : uint32_t {
  Wsl224 = RESNEXT_PRESET_WSL224,  ///< Resize the short side to 256, centre crop 224.
  Fix320 = RESNEXT_PRESET_FIX320,  ///< Resize the short side to 320, centre crop 320.
};

/// Inference backends (`resnext_backend`).
enum class Backend : uint32_t {
  Tract = RESNEXT_BACKEND_TRACT,  ///< tract: pure Rust, CPU (the default).
  Ort = RESNEXT_BACKEND_ORT,      ///< ONNX Runtime (when compiled in).
};

/// The SDK's own CPU kernels for the convolutions on the tract backend (`resnext_cpu_kernels`).
enum class CpuKernels : uint32_t {
  Auto = RESNEXT_CPU_KERNELS_AUTO,               ///< AMX, else VNNI, else AVX2 (default).
  Off = RESNEXT_CPU_KERNELS_OFF,                 ///< tract's own path.
  Avx512Vnni = RESNEXT_CPU_KERNELS_AVX512_VNNI,  ///< AVX512-VNNI, even on an AMX CPU.
  AmxInt8 = RESNEXT_CPU_KERNELS_AMX_INT8,        ///< AMX-INT8.
  Scalar = RESNEXT_CPU_KERNELS_SCALAR,           ///< The scalar reference kernels (slow).
  Avx2 = RESNEXT_CPU_KERNELS_AVX2,               ///< AVX2 + FMA, even on an AVX-512 CPU.
};

/// ONNX Runtime execution providers (`resnext_provider`).
enum class Provider : uint32_t {
  Cpu = RESNEXT_PROVIDER_CPU,            ///< ONNX Runtime's CPU provider (the default).
  Cuda = RESNEXT_PROVIDER_CUDA,          ///< NVIDIA CUDA.
  TensorRt = RESNEXT_PROVIDER_TENSORRT,  ///< NVIDIA TensorRT (CUDA for the rest).
};

/// What happens when the provider cannot be used (`resnext_fallback`).
enum class Fallback : uint32_t {
  Fail = RESNEXT_FALLBACK_FAIL,                   ///< Throw PROVIDER_UNAVAILABLE (default).
  NextProvider = RESNEXT_FALLBACK_NEXT_PROVIDER,  ///< TensorRT -> CUDA -> CPU, with warnings.
};

/// Weight precision (`resnext_precision`).
enum class Precision : uint32_t {
  Fp32 = RESNEXT_PRECISION_FP32,
  Fp16 = RESNEXT_PRECISION_FP16,
  Int8 = RESNEXT_PRECISION_INT8,
};

/// What the model outputs (`resnext_output_kind`).
enum class OutputKind : uint32_t {
  Logits = RESNEXT_OUTPUT_KIND_LOGITS,                ///< Raw scores: the library applies softmax.
  Probabilities = RESNEXT_OUTPUT_KIND_PROBABILITIES,  ///< The graph ends in Softmax.
};

/// Log levels (`resnext_log_level`).
enum class LogLevel : uint32_t {
  Off = RESNEXT_LOG_LEVEL_OFF,
  Error = RESNEXT_LOG_LEVEL_ERROR,
  Warn = RESNEXT_LOG_LEVEL_WARN,
  Info = RESNEXT_LOG_LEVEL_INFO,
  Debug = RESNEXT_LOG_LEVEL_DEBUG,
  Trace = RESNEXT_LOG_LEVEL_TRACE,
};

/// One predicted class. Owns its label (a copy).
struct Prediction {
  uint32_t class_id = 0;  ///< Index of the class in the model's output.
  float score = 0.0f;     ///< Probability in [0, 1].
  std::string label;      ///< The class label ("" when the classifier has no label for it).
};

/// Wall-clock time of each stage, in milliseconds.
struct Timings {
  double decode_ms = 0.0;       ///< Reading and decoding (or converting a raw buffer) to RGB.
  double preprocess_ms = 0.0;   ///< Resize, crop and normalization.
  double inference_ms = 0.0;    ///< The engine's run (in a batch: the whole batch's run).
  double postprocess_ms = 0.0;  ///< Softmax and top-k.

  /// The sum of the four stages.
  double total_ms() const noexcept { return decode_ms + preprocess_ms + inference_ms + postprocess_ms; }
};

/// The result of classifying one image: the top-k predictions, highest score first.
struct Classification {
  std::vector<Prediction> predictions;  ///< At most `top_k()` entries, sorted by score (fewer, or none, under a score threshold).
  Timings timings;                      ///< Per-stage timings of this image.
};

/// What a classifier's model is. All fields are copies owned by this struct.
struct ModelInfo {
  std::string input_name;   ///< Name of the image input.
  std::string output_name;  ///< Name of the score output.
  uint32_t height = 0;      ///< Input height in pixels.
  uint32_t width = 0;       ///< Input width in pixels.
  uint32_t classes = 0;     ///< Number of classes.
  Precision precision = Precision::Fp32;
  OutputKind output_kind = OutputKind::Logits;
  bool input_is_f16 = false;  ///< True when the ONNX input is float16.
  uint64_t parameters = 0;    ///< Number of weight parameters.
  uint32_t threads = 0;       ///< Worker threads of one inference.
  uint32_t top_k = 0;         ///< Predictions returned per image.
  std::string backend;        ///< Backend name ("tract").
  std::string compute;        ///< How the backend computes.
  std::string provider;       ///< "cpu", "cuda:N" or "tensorrt:N" (the one in use).
};

/// One image of a batch (see `Classifier::classify_batch`).
///
/// Ownership: a file path is copied into the `Image`; encoded bytes and pixel buffers are
/// *borrowed*: the memory must stay valid and unchanged until the classify call that uses the
/// `Image` has returned. (Overloads that would borrow a temporary vector are deleted.)
class Image {
 public:
  /// An encoded image file (JPEG, PNG, BMP, WebP) on disk.
  static Image file(std::string path) {
    Image image;
    image.raw_.kind = RESNEXT_IMAGE_KIND_FILE;
    image.path_ = std::move(path);
    return image;
  }

  /// Encoded image bytes (borrowed).
  static Image encoded(const uint8_t* data, size_t len) {
    Image image;
    image.raw_.kind = RESNEXT_IMAGE_KIND_ENCODED;
    image.raw_.data = data;
    image.raw_.len = len;
    return image;
  }
  /// Encoded image bytes (borrowed from `bytes`, which must outlive the classify call).
  static Image encoded(const std::vector<uint8_t>& bytes) { return encoded(bytes.data(), bytes.size()); }
  static Image encoded(std::vector<uint8_t>&&) = delete;  ///< Would dangle.

  /// A raw pixel buffer (borrowed), arguments in the C ABI's order. `row_stride`: bytes
  /// between row starts, 0 for tightly packed. `rotation`: clockwise degrees applied before
  /// preprocessing, 0, 90, 180 or 270 (anything else fails with INVALID_ARGUMENT at classify
  /// time).
  static Image pixels(const uint8_t* data, size_t len, uint32_t width, uint32_t height, size_t row_stride,
                      PixelFormat format, uint32_t rotation = 0) {
    Image image;
    image.raw_.kind = RESNEXT_IMAGE_KIND_PIXELS;
    image.raw_.data = data;
    image.raw_.len = len;
    image.raw_.width = width;
    image.raw_.height = height;
    image.raw_.row_stride = row_stride;
    image.raw_.pixel_format = static_cast<uint32_t>(format);
    image.raw_.rotation = rotation;
    return image;
  }
  /// A raw pixel buffer borrowed from `bytes`, which must outlive the classify call.
  static Image pixels(const std::vector<uint8_t>& bytes, uint32_t width, uint32_t height, size_t row_stride,
                      PixelFormat format, uint32_t rotation = 0) {
    return pixels(bytes.data(), bytes.size(), width, height, row_stride, format, rotation);
  }
  static Image pixels(std::vector<uint8_t>&&, uint32_t, uint32_t, size_t, PixelFormat,
                      uint32_t = 0) = delete;  ///< Would dangle.

  /// A planar YUV 4:2:0 camera frame (borrowed, read in place): Android's `YUV_420_888`
  /// planes, I420, or NV21/NV12 memory seen as planes (`uv_pixel_stride` 2, `u` and `v` one
  /// byte apart). Each plane may end right after its last sample. Converted with the same
  /// BT.601 formula as NV21, so a frame gives the same result in either layout. Bad strides or
  /// short planes fail at classify time (INVALID_ARGUMENT, BUFFER_SIZE).
  static Image yuv420(const uint8_t* y, size_t y_len, const uint8_t* u, size_t u_len, const uint8_t* v,
                      size_t v_len, size_t y_row_stride, size_t uv_row_stride, uint32_t uv_pixel_stride,
                      uint32_t width, uint32_t height, uint32_t rotation = 0) {
    Image image;
    image.raw_.kind = RESNEXT_IMAGE_KIND_YUV420;
    image.raw_.data = y;
    image.raw_.len = y_len;
    image.raw_.u_data = u;
    image.raw_.u_len = u_len;
    image.raw_.v_data = v;
    image.raw_.v_len = v_len;
    image.raw_.row_stride = y_row_stride;
    image.raw_.uv_row_stride = uv_row_stride;
    image.raw_.uv_pixel_stride = uv_pixel_stride;
    image.raw_.width = width;
    image.raw_.height = height;
    image.raw_.rotation = rotation;
    return image;
  }

  /// This image limited to a region of interest (in the source's pixels, before rotation,
  /// resize and crop; even `x` and `y` on YUV images): the result equals classifying the
  /// cropped image. An empty or outside region fails at classify time with INVALID_ARGUMENT,
  /// except `with_roi(0, 0, 0, 0)`, which (as the C fields all 0) means the whole image.
  Image with_roi(uint32_t x, uint32_t y, uint32_t width, uint32_t height) const {
    Image image = *this;
    image.raw_.roi_x = x;
    image.raw_.roi_y = y;
    image.raw_.roi_width = width;
    image.raw_.roi_height = height;
    return image;
  }

  /// The C description; its `path` points into this object (valid while it lives, unmoved).
  resnext_image to_c() const noexcept {
    resnext_image raw = raw_;
    raw.path = raw_.kind == RESNEXT_IMAGE_KIND_FILE ? path_.c_str() : nullptr;
    return raw;
  }

 private:
  Image() : raw_{} {}
  resnext_image raw_;
  std::string path_;
};

/// Options a `Classifier` is created from (owns a `resnext_options`); the name is the Rust
/// and Java API's. Defaults: preset wsl-224, top-5, no score threshold, all cores, ImageNet-1k
/// labels, tract backend. A model must be set.
///
/// Setters return `*this` for chaining and throw `Error` on an invalid value. Not thread-safe.
/// The options may be destroyed right after creating a classifier, or reused for more.
class ClassifierOptions {
 public:
  /// Creates default options. Throws `Error` (PANIC) if the library could not allocate them.
  ClassifierOptions() : handle_(resnext_options_new()) {
    if (!handle_) detail::throw_error(RESNEXT_RESULT_PANIC);
  }
  ClassifierOptions(const ClassifierOptions&) = delete;
  ClassifierOptions& operator=(const ClassifierOptions&) = delete;
  ClassifierOptions(ClassifierOptions&&) noexcept = default;
  ClassifierOptions& operator=(ClassifierOptions&&) noexcept = default;
  ~ClassifierOptions() = default;

  /// The model: an ONNX file (the path is copied; the file is read by `Classifier`).
  ClassifierOptions& model_path(const std::string& path) {
    detail::check(resnext_options_set_model_path(raw(), path.c_str()));
    return *this;
  }
  /// The model: ONNX bytes in memory (copied: `data` may be freed when this returns).
  ClassifierOptions& model_bytes(const uint8_t* data, size_t len) {
    detail::check(resnext_options_set_model_bytes(raw(), data, len));
    return *this;
  }
  /// The model: ONNX bytes in memory (copied).
  ClassifierOptions& model_bytes(const std::vector<uint8_t>& bytes) { return model_bytes(bytes.data(), bytes.size()); }
  /// The model: `length` bytes of the open file `fd` from `offset` (an Android asset's
  /// descriptor, offset and length). `fd` stays the caller's: it is duplicated, never closed,
  /// and read with `pread` (its file offset is unchanged); it may be closed when this returns.
  /// Throws INVALID_ARGUMENT for a negative value, a length of 0, a descriptor that is not an
  /// open regular file, or a range past the end of the file.
  ClassifierOptions& model_fd(int fd, int64_t offset, int64_t length) {
    detail::check(resnext_options_set_model_fd(raw(), fd, offset, length));
    return *this;
  }
  /// A preprocessing preset.
  ClassifierOptions& preset(Preset value) {
    detail::check(resnext_options_set_preset(raw(), static_cast<uint32_t>(value)));
    return *this;
  }
  /// Custom preprocessing: resize the short side to `resize_short`, centre crop `crop`, then
  /// `(x / 255 - mean[c]) / stddev[c]` (RGB order, [0, 1] units).
  ClassifierOptions& preprocess(uint32_t resize_short, uint32_t crop, const std::array<float, 3>& mean,
                      const std::array<float, 3>& stddev) {
    detail::check(resnext_options_set_preprocess(raw(), resize_short, crop, mean.data(), stddev.data()));
    return *this;
  }
  /// Predictions per image (at least 1; clamped to the class count).
  ClassifierOptions& top_k(uint32_t k) {
    detail::check(resnext_options_set_top_k(raw(), k));
    return *this;
  }
  /// Drops predictions scoring below `threshold` (a probability in [0, 1]; default 0): a result
  /// may then hold fewer than `top_k` predictions, or none.
  ClassifierOptions& score_threshold(float threshold) {
    detail::check(resnext_options_set_score_threshold(raw(), threshold));
    return *this;
  }
  /// Worker threads of one inference (0: all cores).
  ClassifierOptions& threads(uint32_t n) {
    detail::check(resnext_options_set_threads(raw(), n));
    return *this;
  }
  /// Labels from a file (one per line, or PaddleClas's `<id> <name>`), read by `Classifier`.
  ClassifierOptions& labels_file(const std::string& path) {
    detail::check(resnext_options_set_labels_file(raw(), path.c_str()));
    return *this;
  }
  /// The built-in ImageNet-1k labels (the default).
  ClassifierOptions& imagenet_labels() {
    detail::check(resnext_options_set_labels_file(raw(), nullptr));
    return *this;
  }
  /// No labels: predictions carry "".
  ClassifierOptions& no_labels() {
    detail::check(resnext_options_set_no_labels(raw()));
    return *this;
  }
  /// Accept a label count that differs from the model's class count.
  ClassifierOptions& allow_label_mismatch(bool allow = true) {
    detail::check(resnext_options_set_allow_label_mismatch(raw(), allow ? 1u : 0u));
    return *this;
  }
  /// The backend (a backend not compiled in fails in `Classifier` with BACKEND_UNAVAILABLE).
  ClassifierOptions& backend(Backend value) {
    detail::check(resnext_options_set_backend(raw(), static_cast<uint32_t>(value)));
    return *this;
  }
  /// The CPU kernels for INT8 convolutions (a family this CPU cannot run fails in `Classifier`
  /// with BACKEND_UNAVAILABLE).
  ClassifierOptions& cpu_kernels(CpuKernels value) {
    detail::check(resnext_options_set_cpu_kernels(raw(), static_cast<uint32_t>(value)));
    return *this;
  }
  /// tract, opt-in: a float model's convolutions (all of a ResNeXt's but the stem) in bf16 on Intel
  /// AMX or AVX512-BF16 (ignored with a warning with neither; `info().compute` says what runs).
  ClassifierOptions& bf16_matmul(bool enable = true) {
    detail::check(resnext_options_set_bf16_matmul(raw(), enable ? 1u : 0u));
    return *this;
  }
  /// tract: widen float16 weights to float32 at load (the default), or keep float16 (false).
  ClassifierOptions& widen_fp16(bool widen) {
    detail::check(resnext_options_set_widen_fp16(raw(), widen ? 1u : 0u));
    return *this;
  }
  /// ONNX Runtime's shared library (empty: `$ORT_DYLIB_PATH`).
  ClassifierOptions& ort_library(const std::string& path) {
    detail::check(resnext_options_set_ort_library(raw(), path.c_str()));
    return *this;
  }
  /// ONNX Runtime's execution provider and GPU ordinal.
  ClassifierOptions& execution_provider(Provider provider, uint32_t device_id = 0) {
    detail::check(resnext_options_set_execution_provider(raw(), static_cast<uint32_t>(provider), device_id));
    return *this;
  }
  /// The fallback policy when the provider cannot be used.
  ClassifierOptions& fallback(Fallback policy) {
    detail::check(resnext_options_set_fallback(raw(), static_cast<uint32_t>(policy)));
    return *this;
  }
  /// TensorRT precision; `calibration_table` (empty: none) for INT8 on a float model.
  ClassifierOptions& tensorrt_precision(bool fp16, bool int8 = false, const std::string& calibration_table = "") {
    detail::check(resnext_options_set_tensorrt_precision(raw(), fp16 ? 1u : 0u, int8 ? 1u : 0u,
                                                         calibration_table.c_str()));
    return *this;
  }
  /// TensorRT engine and timing cache directories (empty: none).
  ClassifierOptions& tensorrt_cache_dirs(const std::string& engines, const std::string& timing = "") {
    detail::check(resnext_options_set_tensorrt_cache_dirs(raw(), engines.c_str(), timing.c_str()));
    return *this;
  }
  /// TensorRT builder workspace in bytes (0: ONNX Runtime's default).
  ClassifierOptions& tensorrt_workspace(uint64_t bytes) {
    detail::check(resnext_options_set_tensorrt_workspace(raw(), bytes));
    return *this;
  }
  /// Jetson DLA core (-1: the GPU).
  ClassifierOptions& tensorrt_dla_core(int32_t core) {
    detail::check(resnext_options_set_tensorrt_dla_core(raw(), core));
    return *this;
  }
  /// TensorRT batch optimization profile (1 <= min <= opt <= max).
  ClassifierOptions& tensorrt_batch_profile(uint32_t min, uint32_t opt, uint32_t max) {
    detail::check(resnext_options_set_tensorrt_batch_profile(raw(), min, opt, max));
    return *this;
  }
  /// The largest accepted image `width * height` (at least 1).
  ClassifierOptions& max_pixels(uint64_t n) {
    detail::check(resnext_options_set_max_pixels(raw(), n));
    return *this;
  }
  /// Classify truncated image data (a JPEG without its end-of-image marker, a PNG cut before its
  /// end) as a partial frame, the missing rows grey; by default it is refused with
  /// RESNEXT_RESULT_IMAGE_DECODE and a message saying it is truncated.
  ClassifierOptions& allow_truncated_images(bool allow = true) {
    detail::check(resnext_options_set_allow_truncated_images(raw(), allow ? 1u : 0u));
    return *this;
  }
  /// The largest accepted model size in bytes (at least 1).
  ClassifierOptions& max_model_bytes(uint64_t n) {
    detail::check(resnext_options_set_max_model_bytes(raw(), n));
    return *this;
  }

  /// False for a moved-from object.
  bool valid() const noexcept { return handle_ != nullptr; }
  /// The C handle (still owned by this object; NULL when moved from).
  const resnext_options* capi() const noexcept { return handle_.get(); }

 private:
  resnext_options* raw() const { return detail::require(handle_.get(), "ClassifierOptions"); }
  std::unique_ptr<resnext_options, detail::OptionsDeleter> handle_;
};

/// The former name of `ClassifierOptions`, kept for source compatibility until 1.0.
using Options [[deprecated("use resnext::ClassifierOptions")]] = ClassifierOptions;

/// A loaded classifier (owns a `resnext_classifier`).
///
/// Thread safety: the `const` member functions may be called from any number of threads at
/// once on the same object. Moving, assigning or destroying it requires that no other call on
/// it is in progress.
class Classifier {
 public:
  /// Loads and prepares the model `options` name. Throws `Error` (IO, MODEL_DECODE,
  /// MODEL_UNSUPPORTED, LABELS, ...). `options` is not retained.
  explicit Classifier(const ClassifierOptions& options) {
    resnext_classifier* out = nullptr;
    detail::check(resnext_classifier_new(detail::require(options.capi(), "ClassifierOptions"), &out));
    handle_.reset(out);
    top_k_ = resnext_classifier_top_k(out);
    if (top_k_ == 0) detail::throw_error(RESNEXT_RESULT_PANIC);
  }
  /// Loads an ONNX file with the default options.
  explicit Classifier(const std::string& model_path) : Classifier(ClassifierOptions().model_path(model_path)) {}

  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;
  Classifier(Classifier&& other) noexcept : handle_(std::move(other.handle_)), top_k_(other.top_k_) {
    other.top_k_ = 0;
  }
  Classifier& operator=(Classifier&& other) noexcept {
    if (this != &other) {
      handle_ = std::move(other.handle_);
      top_k_ = other.top_k_;
      other.top_k_ = 0;
    }
    return *this;
  }
  ~Classifier() = default;

  /// False for a moved-from object.
  bool valid() const noexcept { return handle_ != nullptr; }
  /// The C handle (still owned by this object; NULL when moved from).
  const resnext_classifier* capi() const noexcept { return handle_.get(); }

  /// Predictions returned per image (already clamped to the class count).
  size_t top_k() const {
    raw();
    return top_k_;
  }

  /// The label of class `class_id` (a copy; "" when the classifier has none for it). Throws
  /// INVALID_ARGUMENT for a class id not below the model's class count.
  std::string label(uint32_t class_id) const {
    const char* label = nullptr;
    detail::check(resnext_classifier_label(raw(), class_id, &label));
    return detail::copy(label);
  }

  /// Describes the model.
  ModelInfo info() const {
    resnext_model_info c{};
    detail::check(resnext_classifier_info(raw(), &c));
    ModelInfo info;
    info.input_name = detail::copy(c.input_name);
    info.output_name = detail::copy(c.output_name);
    info.height = c.height;
    info.width = c.width;
    info.classes = c.classes;
    info.precision = static_cast<Precision>(c.precision);
    info.output_kind = static_cast<OutputKind>(c.output_kind);
    info.input_is_f16 = c.input_is_f16 != 0;
    info.parameters = c.parameters;
    info.threads = c.threads;
    info.top_k = c.top_k;
    info.backend = detail::copy(c.backend);
    info.compute = detail::copy(c.compute);
    info.provider = detail::copy(c.provider);
    return info;
  }

  /// Classifies any `Image`.
  Classification classify(const Image& image) const {
    const resnext_image c = image.to_c();
    return run([&](resnext_prediction* p, size_t cap, size_t* n, resnext_timings* t) {
      return resnext_classify(raw(), &c, p, cap, n, t);
    });
  }

  /// Classifies an image file (JPEG, PNG, BMP, WebP).
  Classification classify_file(const std::string& path) const {
    return run([&](resnext_prediction* p, size_t cap, size_t* n, resnext_timings* t) {
      return resnext_classify_file(raw(), path.c_str(), p, cap, n, t);
    });
  }

  /// Classifies encoded image bytes (read during the call only).
  Classification classify_encoded(const uint8_t* data, size_t len) const {
    return run([&](resnext_prediction* p, size_t cap, size_t* n, resnext_timings* t) {
      return resnext_classify_encoded(raw(), data, len, p, cap, n, t);
    });
  }
  /// Classifies encoded image bytes.
  Classification classify_encoded(const std::vector<uint8_t>& bytes) const {
    return classify_encoded(bytes.data(), bytes.size());
  }

  /// Classifies a raw pixel buffer (read during the call only). The arguments are in the C
  /// ABI's order: `row_stride` (bytes between row starts, 0 for tightly packed), then the
  /// format, then `rotation` (clockwise degrees, 0/90/180/270). A short buffer throws
  /// BUFFER_SIZE.
  Classification classify_pixels(const uint8_t* data, size_t len, uint32_t width, uint32_t height,
                                 size_t row_stride, PixelFormat format, uint32_t rotation = 0) const {
    return run([&](resnext_prediction* p, size_t cap, size_t* n, resnext_timings* t) {
      return resnext_classify_pixels(raw(), data, len, width, height, row_stride, static_cast<uint32_t>(format),
                                     rotation, p, cap, n, t);
    });
  }
  /// Classifies a raw pixel buffer held in a vector (arguments as above).
  Classification classify_pixels(const std::vector<uint8_t>& bytes, uint32_t width, uint32_t height,
                                 size_t row_stride, PixelFormat format, uint32_t rotation = 0) const {
    return classify_pixels(bytes.data(), bytes.size(), width, height, row_stride, format, rotation);
  }

  /// Classifies several images in one batched run; result `i` belongs to `images[i]`. The batch
  /// fails as a whole (the message names the failing image's index). An empty batch throws
  /// `Error` with RESNEXT_RESULT_INVALID_ARGUMENT, as in C and Java.
  std::vector<Classification> classify_batch(const std::vector<Image>& images) const {
    const resnext_classifier* c = raw();
    if (images.empty()) {
      // The library's own check and message (its outputs are not touched for 0 images).
      resnext_image none{};
      resnext_prediction no_prediction{};
      size_t no_count = 0;
      detail::check(resnext_classify_batch(c, &none, 0, &no_prediction, 0, &no_count, nullptr));
    }
    std::vector<resnext_image> raw_images;
    raw_images.reserve(images.size());
    for (const Image& image : images) raw_images.push_back(image.to_c());
    const size_t n = images.size();
    std::vector<resnext_prediction> predictions(n * top_k_);
    std::vector<size_t> counts(n);
    std::vector<resnext_timings> timings(n);
    detail::check(resnext_classify_batch(c, raw_images.data(), n, predictions.data(), predictions.size(),
                                         counts.data(), timings.data()));
    std::vector<Classification> results(n);
    for (size_t i = 0; i < n; ++i) {
      results[i] = convert(&predictions[i * top_k_], counts[i], timings[i]);
    }
    return results;
  }

 private:
  const resnext_classifier* raw() const { return detail::require(handle_.get(), "Classifier"); }

  static Classification convert(const resnext_prediction* predictions, size_t count, const resnext_timings& t) {
    Classification result;
    result.predictions.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      result.predictions.push_back(
          Prediction{predictions[i].class_id, predictions[i].score, detail::copy(predictions[i].label)});
    }
    result.timings = Timings{t.decode_ms, t.preprocess_ms, t.inference_ms, t.postprocess_ms};
    return result;
  }

  template <typename Call>
  Classification run(Call call) const {
    raw();
    std::vector<resnext_prediction> predictions(top_k_);
    size_t count = 0;
    resnext_timings timings{};
    detail::check(call(predictions.data(), predictions.size(), &count, &timings));
    return convert(predictions.data(), count, timings);
  }

  std::unique_ptr<resnext_classifier, detail::ClassifierDeleter> handle_;
  size_t top_k_ = 0;
};

/// A log sink: receives the level and the message of each record.
using LogCallback = std::function<void(LogLevel, const std::string&)>;

namespace detail {

struct LogState {
  std::mutex mutex;               // serializes set_log_callback
  LogCallback* current = nullptr;  // the installed callback (heap; reachable, never a leak)
};

/// The process-wide state (one instance across all translation units: an inline function's
/// static). Allocated once and never destroyed, so a record logged by a library thread during
/// process exit never sees a destroyed callback.
inline LogState& log_state() {
  static LogState* state = new LogState();
  return *state;
}

inline void log_trampoline(void* user_data, uint32_t level, const char* message) {
  try {
    const auto* callback = static_cast<const LogCallback*>(user_data);
    (*callback)(static_cast<LogLevel>(level), copy(message));
  } catch (...) {
    // Exceptions must not cross into the library: a throwing callback loses its record.
  }
}

}  // namespace detail

/// Sends the library's log records up to `max_level` to `callback`; an empty `callback` (or
/// `LogLevel::Off`) removes it. Replaces any previous callback.
///
/// Ownership: the `std::function` is moved into process-wide static storage and kept alive
/// until it is replaced or removed (the library guarantees it is no longer running once the
/// replacing call has returned).
///
/// Thread safety: `callback` may be invoked from any thread, including library worker threads,
/// and concurrently: it must be thread-safe. Exceptions it throws are swallowed. It must not
/// call `set_log_callback` itself (deadlock). `set_log_callback` itself may be called from any
/// thread (calls are serialized).
///
/// Throws `Error` (INVALID_ARGUMENT) if another Rust `log` logger is already installed in the
/// process.
inline void set_log_callback(LogCallback callback, LogLevel max_level = LogLevel::Info) {
  detail::LogState& state = detail::log_state();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (!callback || max_level == LogLevel::Off) {
    detail::check(resnext_set_log_callback(nullptr, nullptr, RESNEXT_LOG_LEVEL_OFF));
    delete state.current;
    state.current = nullptr;
    return;
  }
  std::unique_ptr<LogCallback> next(new LogCallback(std::move(callback)));
  detail::check(resnext_set_log_callback(&detail::log_trampoline, next.get(), static_cast<uint32_t>(max_level)));
  delete state.current;  // the library no longer calls it
  state.current = next.release();
}

/// Removes the log callback.
inline void clear_log_callback() { set_log_callback(LogCallback(), LogLevel::Off); }

/// The library's static description of a result code.
inline std::string result_message(resnext_result code) { return resnext_result_message(code); }

}  // namespace resnext

#endif  // RESNEXT_HPP
