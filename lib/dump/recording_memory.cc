#include "lib/dump/recording_memory.h"

#include <algorithm>
#include <utility>

namespace coroner {

RecordingMemory::RecordingMemory(const PhysicalMemory& inner)
    : inner_(inner), words_((inner.pfn_limit() + 63) / 64),
      bits_(std::make_unique<std::atomic<uint64_t>[]>(words_)) {
  for (uint64_t i = 0; i < words_; ++i) bits_[i].store(0, std::memory_order_relaxed);
}

void RecordingMemory::Record(Pfn pfn) const {
  const uint64_t w = pfn.value / 64;
  if (w >= words_) return;
  const uint64_t bit = uint64_t{1} << (pfn.value % 64);
  if (!(bits_[w].fetch_or(bit, std::memory_order_relaxed) & bit)) {
    recorded_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(new_mutex_);
    new_pfns_.push_back(pfn.value);
  }
}

std::vector<uint64_t> RecordingMemory::TakeNewPfns() const {
  std::lock_guard lock(new_mutex_);
  return std::exchange(new_pfns_, {});
}

bool RecordingMemory::Recorded(Pfn pfn) const {
  const uint64_t w = pfn.value / 64;
  return w < words_ && ((bits_[w].load(std::memory_order_relaxed) >> (pfn.value % 64)) & 1);
}

Result<void> RecordingMemory::ReadPage(Pfn pfn, std::span<std::byte> out) const {
  Record(pfn);
  return inner_.ReadPage(pfn, out);
}

Result<void> RecordingMemory::Read(PhysAddr addr, std::span<std::byte> out) const {
  // Page by page through the wrapped Read (which may be faster than ReadPage), so the pages
  // recorded are exactly those the read reached: the failing page is the last one.
  const uint64_t ps = page_size();
  uint64_t a = addr.value;
  size_t done = 0;
  while (done < out.size()) {
    const uint64_t in_page = a % ps;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(ps - in_page, out.size() - done));
    Record(Pfn{a / ps});
    CORONER_TRY_VOID(inner_.Read(PhysAddr{a}, out.subspan(done, n)));
    done += n;
    a += n;
  }
  return Ok();
}

}  // namespace coroner
