// `sys`: crash's summary block (KERNEL, DUMPFILE, CPUS, DATE, UPTIME, LOAD AVERAGE, TASKS,
// NODENAME, RELEASE, VERSION, MACHINE, MEMORY, PANIC), `sys -t` (the taint flags) and `sys -c
// [NAME|NUMBER]` (the system call table with each handler's source file and line).
// Everything but -c's source lines comes from the dump: no vmlinux needed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"
#include "lib/kernel/printk.h"

namespace coroner {

// sys -c: one sys_call_table entry.
struct SysCall {
  int nr = 0;
  uint64_t handler = 0;
  std::string name;    // "" when no symbol starts at the handler (an invalid entry)
  std::string source;  // "../fs/read_write.c: 642" (relative to the build directory), "" if none
};

struct SysResult {
  bool taint_only = false;  // sys -t
  bool syscall_table = false;  // sys -c
  bool syscall_count_confirmed = false;  // the table's length is its type's, not a guess
  bool line_numbers = false;   // a vmlinux with DWARF gave source lines
  std::vector<SysCall> syscalls;
  std::string kernel;       // the vmlinux, or where symbols and types came from
  bool tainted = false;
  uint64_t taint_mask = 0;
  std::string taint_letters;
  std::vector<std::string> dumpfiles;
  bool partial = false;
  int cpus = 0;
  int offline_cpus = 0;
  std::optional<int64_t> crash_time;   // seconds since the epoch
  std::optional<uint64_t> uptime_seconds;
  int hz = 0;
  std::string hz_source;
  std::string load_average;            // "0.30, 0.07, 0.02"
  std::optional<size_t> tasks;         // nullopt: the task list could not be read (see warnings)
  std::string nodename, release, version, machine;
  uint64_t mhz = 0;
  std::optional<uint64_t> memory_bytes;
  std::string panic;                   // the panic message, "" if none found
  int panic_cpu = -1;
  std::vector<std::string> warnings;   // rows that could not be read, and why
};

Result<SysResult> RunSys(const Session& s, const std::vector<std::string>& args);

// Uptime in jiffies (jiffies_64 - INITIAL_JIFFIES) and the kernel's HZ, as `sys` finds them.
struct KernelClock {
  uint64_t uptime_jiffies = 0;
  int hz = 0;
  std::string hz_source;
};
Result<KernelClock> ReadKernelClock(const Session& s);

// The kernel's taint letters for a tainted_mask ("E" for 0x2000), as /proc/sys/kernel/tainted.
std::string TaintLetters(uint64_t mask);

// The panic message from the kernel log: the "Kernel panic - not syncing" line, else the first
// oops/BUG line with "(check log for details)" as crash prints it; "" if none.
std::string FindPanicMessage(const PrintkLog& log);

// When the system booted, as crash reckons it for `log -T`: the crash time (VMCOREINFO
// CRASHTIME) less the uptime in whole seconds from jiffies. nullopt if either is unknown.
std::optional<int64_t> BootTime(const Session& s, const PrintkLog* log);

}  // namespace coroner
