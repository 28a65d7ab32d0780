// `waitq SYMBOL | STRUCT.MEMBER ADDRESS | ADDRESS`: the tasks on a wait queue
// (wait_queue_head.head, a list of wait_queue_entry.entry whose private is the task), as
// crash 8.0.2 prints them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct WaitqResult {
  uint64_t head = 0;          // the wait_queue_head
  std::string name;           // the symbol, when one was given
  std::vector<uint64_t> entries;   // wait_queue_entry addresses
  std::vector<uint64_t> privates;  // each entry's private
  std::vector<TaskInfo> tasks;     // the entries whose private is a known task, in order
};

Result<WaitqResult> RunWaitq(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
