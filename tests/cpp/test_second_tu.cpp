// Second translation unit of the C++ wrapper test: includes resnext.hpp again (an ODR
// violation or a non-inline definition in the header would fail the link) and defines helpers
// test_main.cpp calls.
#include "test_common.hpp"

#include <fstream>
#include <iterator>
#include <thread>

namespace resnext_test {

resnext::Classifier load_r50(const std::string& models_dir, uint32_t threads) {
  resnext::ClassifierOptions options;
  options.model_path(models_dir + "/r50_torch.onnx").preset(resnext::Preset::Wsl224).top_k(5).threads(threads);
  resnext::Classifier classifier(options);
  return classifier;  // moved out (no copy constructor exists)
}

int classify_concurrently(const resnext::Classifier& classifier, const std::vector<std::string>& paths,
                          const std::vector<std::vector<uint32_t>>& expected, int threads, int rounds) {
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        for (size_t i = 0; i < paths.size(); ++i) {
          const size_t k = (i + static_cast<size_t>(t)) % paths.size();  // different orders per thread
          try {
            if (class_ids(classifier.classify_file(paths[k])) != expected[k]) ++failures;
          } catch (const std::exception&) {
            ++failures;
          }
        }
      }
      // Error state is per thread: a failure here must report this thread's message.
      try {
        classifier.classify_file(paths[0] + ".missing");
        ++failures;
      } catch (const resnext::Error& e) {
        if (e.code() != RESNEXT_RESULT_IO || std::string(e.what()).find(".missing") == std::string::npos) ++failures;
      }
    });
  }
  for (auto& w : workers) w.join();
  return failures.load();
}

void install_counting_logger(std::atomic<int>* counter, resnext::LogLevel level) {
  resnext::set_log_callback([counter](resnext::LogLevel, const std::string& message) {
    if (!message.empty()) counter->fetch_add(1);
  }, level);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<uint32_t> class_ids(const resnext::Classification& c) {
  std::vector<uint32_t> ids;
  for (const auto& p : c.predictions) ids.push_back(p.class_id);
  return ids;
}

}  // namespace resnext_test
