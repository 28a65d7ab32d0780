// The kernel log (printk buffer) read from a dump with only VMCOREINFO, in each of its
// formats:
//  - the lockless ring buffer (5.10+, kernel/printk/printk_ringbuffer.h): a descriptor ring
//    with per-record info (seq, ts_nsec, text_len, level, caller_id) and a text data ring;
//  - variable-length records in log_buf (3.5 to 5.9: struct printk_log headers);
//  - the plain character buffer of older kernels (log_buf, log_end).
// Records whose text lies in a page the dump lacks are kept, marked, and counted.
//
//   CORONER_TRY(PrintkLog log, ReadPrintkLog(kernel_memory, vmcoreinfo));
//   for (auto& r : log.records) fmt::print("[{:5}.{:06}] {}\n", ...);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/base/error.h"
#include "lib/dump/vmcoreinfo.h"
#include "lib/memory/kernel_memory.h"

namespace coroner {

struct PrintkRecord {
  uint64_t seq = 0;
  uint64_t ts_nsec = 0;
  std::string text;  // raw bytes of the message (may hold newlines)
  std::optional<int> level;          // 0-7 (KERN_EMERG..KERN_DEBUG)
  std::optional<int> facility;
  std::optional<uint32_t> caller_id;  // 0x80000000|cpu for CPU context, else the PID
  // dev_printk()'s dictionary (5.10+: info->dev_info, "SUBSYSTEM=" and "DEVICE=" for crash's
  // log -d); empty where the record has none or the kernel keeps none.
  std::string subsystem;
  std::string device;
  bool text_missing = false;          // the text's page is not in the dump
  bool truncated = false;             // text_len was longer than the data block
};

struct PrintkLog {
  std::string format;  // "lockless ring buffer", "log_buf records", "log_buf characters"
  std::vector<PrintkRecord> records;
  uint64_t dropped = 0;             // records that could not be read at all
  std::vector<std::string> warnings;
};

Result<PrintkLog> ReadPrintkLog(const VirtualMemory& mem, const Vmcoreinfo& vi);

// makedumpfile --dump-dmesg's rendering of one record: "[%5llu.%06lu] text", continuation
// lines indented to the text, non-printable bytes as \xNN.
std::string FormatDmesgRecord(const PrintkRecord& r, bool timestamps = true);
// The same with any prefix before the text (crash's log -T/-c/-m), continuation lines indented
// to its width.
std::string FormatDmesgRecord(const PrintkRecord& r, const std::string& prefix);

}  // namespace coroner
