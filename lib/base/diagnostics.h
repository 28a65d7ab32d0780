// One sink for non-fatal findings (a bad note, a page descriptor past EOF). Each distinct
// message is kept once, with a count, so a dump with 10,000 bad descriptors prints one line.
//
//   Diagnostics diag;
//   diag.Warn("page descriptor points past end of file");
//   for (auto& w : diag.warnings()) fmt::print("warning: {} (x{})\n", w.message, w.count);
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace coroner {

class Diagnostics {
 public:
  struct Warning {
    std::string message;
    uint64_t count;
  };

  void Warn(std::string message);
  const std::vector<Warning>& warnings() const { return warnings_; }
  bool empty() const { return warnings_.empty(); }

 private:
  std::vector<Warning> warnings_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace coroner
