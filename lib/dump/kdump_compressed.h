// kdump-compressed dumps ("KDUMP   " signature, makedumpfile's diskdump_mod.h), header versions
// 1-6, x86_64 native layout. Block 0 is disk_dump_header, then sub_hdr_size blocks of
// kdump_sub_header, then two bitmaps of bitmap_blocks/2 blocks each (1: page is RAM, 2: page is
// dumped), then one 24-byte page_desc per dumped page in pfn order, then page data compressed
// page by page (zlib 0x1, lzo 0x2, snappy 0x4, zstd 0x20; raw when no flag).
//
// A split set (makedumpfile --split) is several such files, each holding the pages of
// [start_pfn, end_pfn); OpenKdumpSet() joins them into one PhysicalMemory.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lib/base/byte_source.h"
#include "lib/dump/dump.h"

namespace coroner {

inline constexpr uint32_t kDumpStatusIncomplete = 0x8;     // DUMP_DH_COMPRESSED_INCOMPLETE
inline constexpr uint32_t kDumpStatusExcludedVmemmap = 0x10;
inline constexpr uint32_t kPageFlagZlib = 0x1;
inline constexpr uint32_t kPageFlagLzo = 0x2;
inline constexpr uint32_t kPageFlagSnappy = 0x4;
inline constexpr uint32_t kPageFlagZstd = 0x20;
inline constexpr size_t kDiskDumpHeaderSize = 464;  // x86_64 sizeof(struct disk_dump_header)
inline constexpr size_t kKdumpSubHeaderSize = 104;  // x86_64, header version 6
inline constexpr size_t kPageDescSize = 24;

// disk_dump_header and kdump_sub_header as native values; fields absent in the header's
// version are zero.
struct KdumpHeader {
  std::string signature;
  int32_t header_version = 0;
  std::array<std::string, 6> utsname;  // sysname nodename release version machine domainname
  int64_t timestamp_sec = 0;
  int64_t timestamp_usec = 0;
  uint32_t status = 0;
  int32_t block_size = 0;
  int32_t sub_hdr_size = 0;
  uint32_t bitmap_blocks = 0;
  uint32_t max_mapnr_32 = 0;
  uint32_t total_ram_blocks = 0;
  uint32_t device_blocks = 0;
  uint32_t written_blocks = 0;
  uint32_t current_cpu = 0;
  int32_t nr_cpus = 0;
  // kdump_sub_header
  uint64_t phys_base = 0;
  int32_t dump_level = 0;
  int32_t split = 0;
  uint64_t start_pfn_32 = 0;
  uint64_t end_pfn_32 = 0;
  uint64_t offset_vmcoreinfo = 0;
  uint64_t size_vmcoreinfo = 0;
  uint64_t offset_note = 0;
  uint64_t size_note = 0;
  uint64_t offset_eraseinfo = 0;
  uint64_t size_eraseinfo = 0;
  uint64_t start_pfn_64 = 0;
  uint64_t end_pfn_64 = 0;
  uint64_t max_mapnr_64 = 0;

  uint64_t max_mapnr() const { return header_version >= 6 ? max_mapnr_64 : max_mapnr_32; }
  uint64_t start_pfn() const { return header_version >= 6 ? start_pfn_64 : start_pfn_32; }
  uint64_t end_pfn() const { return header_version >= 6 ? end_pfn_64 : end_pfn_32; }
};

// Parses and validates block 0 (at least kDiskDumpHeaderSize bytes) and the sub-header bytes
// (whatever of them the file has). Exposed for fuzzing.
Result<KdumpHeader> ParseKdumpHeader(std::span<const std::byte> block0,
                                     std::span<const std::byte> sub_header);

struct PageDesc {
  int64_t offset;
  uint32_t size;
  uint32_t flags;
  uint64_t page_flags;
};
PageDesc ParsePageDesc(std::span<const std::byte, kPageDescSize> bytes);

// Fills dump.memory/info from one kdump file or a split set (sources outlive dump.memory).
Result<void> OpenKdumpSet(const std::vector<const ByteSource*>& sources, Dump& dump,
                          const std::string& format_name);

}  // namespace coroner
