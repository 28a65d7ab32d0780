// `timer`: the per-CPU timer wheel (timer_bases[]: each base's vectors[] of timer_list.entry
// hlists, 4.8+), every pending timer with its expiry, time to expiry in jiffies and function,
// sorted by expiry, in crash 8.0.2's layout.
#pragma once

#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct PendingTimer {
  uint64_t timer_list = 0;
  uint64_t expires = 0;
  int64_t tte = 0;  // expires - jiffies
  uint64_t function = 0;
  std::string symbol;
};

struct TimerBase {
  int cpu = 0;
  std::string name;  // BASE_STD, BASE_DEF (BASE_LOCAL, BASE_GLOBAL on 6.9+)
  uint64_t base = 0;
  std::vector<PendingTimer> timers;
};

struct TimerResult {
  uint64_t jiffies = 0;
  std::vector<TimerBase> bases;
};

Result<TimerResult> RunTimer(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
