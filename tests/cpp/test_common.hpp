// Declarations shared by the two translation units of the C++ wrapper test.
#ifndef RESNEXT_TEST_COMMON_HPP
#define RESNEXT_TEST_COMMON_HPP

#include "resnext.hpp"

#include <atomic>
#include <string>
#include <vector>

namespace resnext_test {

/// Defined in test_second_tu.cpp: loads a classifier and returns it by value (moved out).
resnext::Classifier load_r50(const std::string& models_dir, uint32_t threads);

/// Defined in test_second_tu.cpp: `threads` threads share `classifier`; each classifies every
/// path `rounds` times and compares the class ids with `expected[i]`. Returns the number of
/// mismatches plus exceptions (0 on success).
int classify_concurrently(const resnext::Classifier& classifier, const std::vector<std::string>& paths,
                          const std::vector<std::vector<uint32_t>>& expected, int threads, int rounds);

/// Defined in test_second_tu.cpp: installs a log callback (from this second translation unit)
/// that counts the records in `counter`.
void install_counting_logger(std::atomic<int>* counter, resnext::LogLevel level);

/// Reads a whole file (empty on failure).
std::vector<uint8_t> read_bytes(const std::string& path);

/// The class ids of a classification, in order.
std::vector<uint32_t> class_ids(const resnext::Classification& c);

}  // namespace resnext_test

#endif
