// RecordingMemory: a PhysicalMemory that forwards to another and remembers every page frame a
// read touched (the page of each ReadPage, every page a Read spans up to the first that fails).
// The triage file (lib/triage) runs the first-look analysis over one and then writes exactly the
// pages it read; anything else that wants "which pages did this need" can use it too.
//
//   RecordingMemory rec(*dump->memory);
//   ... analyse through rec ...
//   uint64_t n = rec.recorded_pages();
//   if (rec.Recorded(Pfn{0x1234})) ...
//
// Thread-safe as the wrapped memory is: the set is a bitmap of atomic words (1 bit per pfn below
// the wrapped memory's pfn_limit(), so 32 MiB for 1 TiB of 4 KiB pages).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "lib/base/error.h"
#include "lib/base/types.h"
#include "lib/dump/physical_memory.h"

namespace coroner {

class RecordingMemory : public PhysicalMemory {
 public:
  // `inner` must outlive this.
  explicit RecordingMemory(const PhysicalMemory& inner);

  uint64_t page_size() const override { return inner_.page_size(); }
  uint64_t pfn_limit() const override { return inner_.pfn_limit(); }
  PageState StateOf(Pfn pfn) const override { return inner_.StateOf(pfn); }
  Result<void> ReadPage(Pfn pfn, std::span<std::byte> out) const override;
  Result<void> Read(PhysAddr addr, std::span<std::byte> out) const override;
  void ForEachDumpedRange(const std::function<void(PfnRange)>& fn) const override {
    inner_.ForEachDumpedRange(fn);
  }
  PageCounts CountPages() const override { return inner_.CountPages(); }

  // Whether a read touched the page (whether or not the read succeeded).
  bool Recorded(Pfn pfn) const;
  // Pages recorded so far (distinct pfns).
  uint64_t recorded_pages() const { return recorded_.load(std::memory_order_relaxed); }
  // Records a pfn as if it had been read (pfns at or above pfn_limit() are ignored).
  void Record(Pfn pfn) const;
  // The pfns first recorded since the last call, in the order they were first read (to tell
  // which step of an analysis needed which pages).
  std::vector<uint64_t> TakeNewPfns() const;

 private:
  const PhysicalMemory& inner_;
  uint64_t words_ = 0;
  std::unique_ptr<std::atomic<uint64_t>[]> bits_;
  mutable std::atomic<uint64_t> recorded_{0};
  mutable std::mutex new_mutex_;
  mutable std::vector<uint64_t> new_pfns_;
};

}  // namespace coroner
