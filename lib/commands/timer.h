// `timer`: the per-CPU timer wheel (timer_bases[]: each base's vectors[] of timer_list.entry
// hlists, 4.8+), every pending timer with its expiry, time to expiry in jiffies and function,
// sorted by expiry, in crash 8.0.2's layout. `timer -r`: each CPU's hrtimer clock bases
// (hrtimer_bases.clock_base[], their active timerqueue) with soft/hard expiry, time to expiry
// against crash's "current" (uptime from jiffies) and function.
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

struct Hrtimer {
  uint64_t hrtimer = 0;
  int64_t softexpires = 0, expires = 0;  // ns
  uint64_t function = 0;
  std::string symbol;
};

struct HrtimerClockBase {
  int cpu = 0;
  int index = 0;
  uint64_t cpu_base = 0;    // hrtimer_bases on this CPU
  uint64_t clock_base = 0;  // its clock_base[index]
  std::string get_time;     // "ktime_get", ... (from get_time, or the clockid on 7.x)
  int64_t now = 0;          // crash's "CURRENT": uptime from jiffies plus the base's offset
  std::vector<Hrtimer> timers;  // in expiry order
};

struct TimerResult {
  bool hrtimers = false;  // -r
  uint64_t jiffies = 0;
  std::vector<TimerBase> bases;
  std::vector<HrtimerClockBase> clock_bases;
};

Result<TimerResult> RunTimer(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
