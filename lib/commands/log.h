// `log`: the kernel log from the dump's printk buffer (no vmlinux needed).
// Options as crash: -t (no timestamps), -T (timestamps as dates: boot time + the record's
// seconds, crash's reckoning), -m (message level prefix), -d (dev_printk's SUBSYSTEM= and
// DEVICE= under the text), -c (the caller, "[    T1]" / "[    C0]", as crash 8.0.3+ prints it;
// crash 8.0.2 has no -c).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"
#include "lib/kernel/printk.h"

namespace coroner {

struct LogOptions {
  bool timestamps = true;   // -t turns them off
  bool human_time = false;  // -T
  bool levels = false;      // -m
  bool dictionary = false;  // -d
  bool caller = false;      // -c
};

struct LogResult {
  LogOptions options;
  PrintkLog log;
  std::optional<int64_t> boot_time;  // -T: seconds since the epoch
  int caller_width = 6;  // -c: the width from pid_max (6 up to 99999, 7 up to 999999, else 11)
};

Result<LogResult> RunLog(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
