// A libkdumpfile context over one dump file or a split set, for the differential test
// (tests/libkdumpfile_diff_test.cc) and the benchmark (bench/page_read_bench.cc). libkdumpfile
// is the reference reader here; nothing in lib/ depends on it.
//
//   std::string err;
//   auto lk = KdumpfileReader::Open({"vmcore.kdump-zlib"}, &err);
//   if (!lk) fail(err);
//   std::vector<std::byte> page(lk->page_size());
//   if (lk->ReadPage(0x1234, page) != KDUMP_OK) fail(lk->error());
#pragma once

#include <fcntl.h>
#include <libkdumpfile/kdumpfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lib/dump/physical_memory.h"

namespace coroner::testing {

class KdumpfileReader {
 public:
  // virt_bits: 48 (4-level paging) or 57 (5-level) for x86_64 kernels. libkdumpfile 0.5.1
  // sets up its address translation (which kernel physical reads go through) on the first
  // read, and fails with "Cannot determine 5-level paging" on kernels whose VMCOREINFO does not
  // tell it; reading physical pages does not depend on the value, but give the right one.
  static std::unique_ptr<KdumpfileReader> Open(const std::vector<std::string>& paths,
                                               std::string* error, int virt_bits = 48) {
    auto r = std::unique_ptr<KdumpfileReader>(new KdumpfileReader());
    for (const std::string& p : paths) {
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        *error = p + ": " + std::strerror(errno);
        return nullptr;
      }
      r->fds_.push_back(fd);
    }
    r->ctx_ = kdump_new();
    if (!r->ctx_) {
      *error = "kdump_new failed";
      return nullptr;
    }
    if (kdump_set_number_attr(r->ctx_, "addrxlat.force.virt_bits", virt_bits) != KDUMP_OK) {
      *error = "addrxlat.force.virt_bits: " + r->error();
      return nullptr;
    }
    if (kdump_open_fdset(r->ctx_, static_cast<unsigned>(r->fds_.size()), r->fds_.data()) != KDUMP_OK) {
      *error = r->error();
      return nullptr;
    }
    kdump_num_t ps = 0;
    if (kdump_get_number_attr(r->ctx_, KDUMP_ATTR_PAGE_SIZE, &ps) != KDUMP_OK || ps == 0) {
      *error = "no page size: " + r->error();
      return nullptr;
    }
    r->page_size_ = ps;
    return r;
  }

  ~KdumpfileReader() {
    if (ctx_) kdump_free(ctx_);
    for (int fd : fds_) ::close(fd);
  }
  KdumpfileReader(const KdumpfileReader&) = delete;
  KdumpfileReader& operator=(const KdumpfileReader&) = delete;

  uint64_t page_size() const { return page_size_; }
  std::string error() const {
    const char* e = kdump_get_err(ctx_);
    return e ? e : "(no message)";
  }
  std::string format() const {
    kdump_attr_t a;
    a.type = KDUMP_STRING;
    if (kdump_get_typed_attr(ctx_, KDUMP_ATTR_FILE_FORMAT, &a) != KDUMP_OK) return "?";
    return a.val.string;
  }

  // Reads the page at pfn (kernel physical address space) into out (page_size() bytes).
  kdump_status ReadPage(uint64_t pfn, std::span<std::byte> out) {
    size_t len = out.size();
    return kdump_read(ctx_, space_, pfn * page_size_, out.data(), &len);
  }

  // libkdumpfile maps kernel physical addresses to the dump's (machine physical) ones only
  // once it knows the OS; a dump without VMCOREINFO (QEMU's, from a guest without the
  // vmcoreinfo device) leaves it with "No way to translate". Outside Xen the two spaces are
  // the same, so such a dump is read as machine physical. Returns true when it switched.
  bool FallBackToMachinePhysical(uint64_t probe_pfn) {
    std::vector<std::byte> page(page_size_);
    if (ReadPage(probe_pfn, page) != KDUMP_ERR_ADDRXLAT) return false;
    space_ = KDUMP_MACHPHYSADDR;
    if (ReadPage(probe_pfn, page) == KDUMP_OK) return true;
    space_ = KDUMP_KPHYSADDR;
    return false;
  }

  // One more than the highest pfn libkdumpfile knows of (its max_pfn attribute).
  uint64_t max_pfn() const {
    kdump_num_t n = 0;
    return kdump_get_number_attr(ctx_, "max_pfn", &n) == KDUMP_OK ? n : 0;
  }

  // The runs of pfns below `limit` that libkdumpfile says the file holds (file.pagemap), in
  // ascending order. Read with kdump_bmp_get_bits: in 0.5.1, kdump_bmp_find_set/find_clear on
  // an ELF file's map can return the same index forever.
  std::optional<std::vector<PfnRange>> FilePages(uint64_t limit, std::string* error) {
    kdump_attr_t a;
    a.type = KDUMP_BITMAP;
    if (kdump_get_typed_attr(ctx_, KDUMP_ATTR_FILE_PAGEMAP, &a) != KDUMP_OK) {
      *error = "file.pagemap: " + this->error();
      return std::nullopt;
    }
    kdump_bmp_t* bmp = a.val.bitmap;
    kdump_bmp_incref(bmp);
    std::vector<PfnRange> ranges;
    constexpr uint64_t kChunk = uint64_t{1} << 20;  // bits per get_bits call
    std::vector<unsigned char> raw(kChunk / 8);
    for (uint64_t first = 0; first < limit; first += kChunk) {
      uint64_t last = std::min(limit, first + kChunk) - 1;
      std::fill(raw.begin(), raw.end(), 0);
      if (kdump_bmp_get_bits(bmp, first, last, raw.data()) != KDUMP_OK) {
        *error = std::string("file.pagemap bits: ") + kdump_bmp_get_err(bmp);
        kdump_bmp_decref(bmp);
        return std::nullopt;
      }
      for (uint64_t i = first; i <= last; ++i) {
        uint64_t k = i - first;
        if (!((raw[k / 8] >> (k % 8)) & 1)) continue;
        if (!ranges.empty() && ranges.back().start + ranges.back().count == i) {
          ++ranges.back().count;
        } else {
          ranges.push_back({i, 1});
        }
      }
    }
    kdump_bmp_decref(bmp);
    return ranges;
  }

 private:
  KdumpfileReader() = default;
  kdump_ctx_t* ctx_ = nullptr;
  std::vector<int> fds_;
  uint64_t page_size_ = 0;
  kdump_addrspace_t space_ = KDUMP_KPHYSADDR;
};

}  // namespace coroner::testing
