// `log`: the kernel log from the dump's printk buffer (no vmlinux needed).
// Options as crash: -t (no timestamps), -m (message level prefix).
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"
#include "lib/kernel/printk.h"

namespace coroner {

struct LogOptions {
  bool timestamps = true;  // -t turns them off
  bool levels = false;     // -m
};

struct LogResult {
  LogOptions options;
  PrintkLog log;
};

Result<LogResult> RunLog(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
