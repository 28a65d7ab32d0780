#include "fuzz/fuzz_support.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace coroner::fuzz {

void CheckFailed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", file, line, what);
  std::abort();
}

namespace {

bool InRanges(const std::vector<PfnRange>& ranges, uint64_t pfn) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), pfn,
                             [](uint64_t p, const PfnRange& r) { return p < r.start; });
  if (it == ranges.begin()) return false;
  --it;
  return pfn - it->start < it->count;
}

class Budget {
 public:
  explicit Budget(uint64_t page_size) : page_size_(page_size) {}
  bool Take() {
    if (pages_ >= kMaxPagesRead || bytes_ + page_size_ > kMaxBytesRead) return false;
    ++pages_;
    bytes_ += page_size_;
    return true;
  }

 private:
  uint64_t page_size_;
  uint64_t pages_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace

void ExerciseMemory(const PhysicalMemory& mem) {
  const uint64_t ps = mem.page_size();
  FUZZ_CHECK(ps >= 512 && ps <= (1u << 20) && (ps & (ps - 1)) == 0);
  const uint64_t limit = mem.pfn_limit();

  const PageCounts counts = mem.CountPages();
  FUZZ_CHECK(counts.total == limit);
  FUZZ_CHECK(counts.dumped <= counts.present && counts.excluded <= counts.present &&
             counts.truncated <= counts.present);
  FUZZ_CHECK(counts.present == counts.dumped + counts.excluded + counts.truncated);
  FUZZ_CHECK(counts.present <= counts.total);

  std::vector<PfnRange> ranges;
  mem.ForEachDumpedRange([&](PfnRange r) { ranges.push_back(r); });
  uint64_t sum = 0;
  uint64_t prev_end = 0;
  for (const PfnRange& r : ranges) {
    FUZZ_CHECK(r.count > 0);
    FUZZ_CHECK(r.start >= prev_end);
    FUZZ_CHECK(r.start < limit && r.count <= limit - r.start);
    sum += r.count;
    prev_end = r.start + r.count;
  }
  FUZZ_CHECK(sum == counts.dumped);

  std::vector<std::byte> page(ps);
  Budget budget(ps);
  // Every dumped page, in order, while the budget lasts.
  for (const PfnRange& r : ranges) {
    for (uint64_t i = 0; i < r.count; ++i) {
      Pfn pfn{r.start + i};
      FUZZ_CHECK(mem.StateOf(pfn) == PageState::kDumped);
      if (!budget.Take()) break;
      (void)mem.ReadPage(pfn, page);
    }
  }

  // The state of low pfns and of the pfns around each run; a page that is not dumped must not
  // read.
  auto probe = [&](uint64_t pfn) {
    PageState st = mem.StateOf(Pfn{pfn});
    bool dumped = InRanges(ranges, pfn);
    FUZZ_CHECK(dumped == (st == PageState::kDumped));
    if (!dumped && budget.Take()) {
      auto r = mem.ReadPage(Pfn{pfn}, page);
      FUZZ_CHECK(!r.has_value());
    }
  };
  for (uint64_t pfn = 0; pfn < std::min(limit, kMaxPfnsProbed); ++pfn) probe(pfn);
  size_t probed_runs = 0;
  for (const PfnRange& r : ranges) {
    if (++probed_runs > 1024) break;
    if (r.start > 0) probe(r.start - 1);
    uint64_t end = r.start + r.count;
    if (end < limit) probe(end);
    // A read that crosses page boundaries within the run and past its end.
    uint64_t len = std::min<uint64_t>(2 * ps, 8192);
    if (budget.Take() && budget.Take()) {
      std::vector<std::byte> buf(len);
      uint64_t addr = r.start * ps + ps / 2;
      auto rr = mem.Read(PhysAddr{addr}, buf);
      if (r.count >= 3 && rr) {
        // Must agree with the page reads.
        if (mem.ReadPage(Pfn{r.start}, page)) {
          FUZZ_CHECK(std::equal(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(ps / 2),
                                page.begin() + static_cast<ptrdiff_t>(ps / 2)));
        }
      }
    }
  }
  // Beyond the end.
  if (limit < (~uint64_t{0} / ps)) {
    FUZZ_CHECK(mem.StateOf(Pfn{limit}) != PageState::kDumped);
    FUZZ_CHECK(!mem.ReadPage(Pfn{limit}, page).has_value());
  }
  // A wrong-sized buffer is an argument error, not a crash.
  std::vector<std::byte> small(ps / 2);
  FUZZ_CHECK(!mem.ReadPage(Pfn{0}, small).has_value());
}

}  // namespace coroner::fuzz
