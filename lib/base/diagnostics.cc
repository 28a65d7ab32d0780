#include "lib/base/diagnostics.h"

namespace coroner {

void Diagnostics::Warn(std::string message) {
  auto it = index_.find(message);
  if (it != index_.end()) {
    ++warnings_[it->second].count;
    return;
  }
  index_.emplace(message, warnings_.size());
  warnings_.push_back({std::move(message), 1});
}

}  // namespace coroner
