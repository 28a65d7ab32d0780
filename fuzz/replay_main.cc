// Replays fuzz corpora without libFuzzer: feeds every file named on the command line (or found
// in a directory named there) to LLVMFuzzerTestOneInput, so the corpora run as ordinary tests
// in any build. A crash or a FUZZ_CHECK abort fails the test; the file being run is printed
// first. An empty corpus fails too (a corpus that went missing must not pass silently).
// As libFuzzer's -malloc_limit_mb does, any single allocation above kMaxAllocation aborts: the
// inputs are small, so a parser asking for more sized a buffer from an unchecked count.
//
//   kdump_fuzzer_replay fuzz/corpus/kdump
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <string>
#include <vector>

namespace {
constexpr size_t kMaxAllocation = size_t{64} << 20;
}  // namespace

// GCC 12 at -O2 takes the free() inside these replacements for a mismatch with the malloc()
// it sees inlined in operator new; the pair is consistent by construction.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(size_t n) {
  if (n > kMaxAllocation) {
    std::fprintf(stderr, "allocation of %zu bytes (limit %zu): a size taken from the input "
                 "without checking it against the input?\n", n, kMaxAllocation);
    std::abort();
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  if (n > kMaxAllocation) {
    std::fprintf(stderr, "allocation of %zu bytes (limit %zu)\n", n, kMaxAllocation);
    std::abort();
  }
  return std::malloc(n ? n : 1);
}
// Every form of new and delete is replaced, so no pair mixes this malloc/free with the
// sanitizer's own operator new (std::stable_sort takes memory with the nothrow form).
void* operator new[](size_t n) { return operator new(n); }
void* operator new[](size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    fs::path p(argv[i]);
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (const auto& e : fs::recursive_directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (fs::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
      return 1;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::fprintf(stderr, "no corpus files given (usage: %s FILE_OR_DIR...)\n", argv[0]);
    return 1;
  }
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "%s: cannot read\n", f.c_str());
      return 1;
    }
    std::fprintf(stderr, "running %s (%zu bytes)\n", f.c_str(), bytes.size());
    // A copy of exactly the input's size, so ASan catches reads past its end.
    std::vector<uint8_t> copy(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(copy.data(), copy.size());
  }
  std::fprintf(stderr, "%zu inputs replayed\n", files.size());
  return 0;
}
