// `kmem ADDRESS...`: what a kernel address belongs to, as crash's `kmem ADDR` says it: the
// kernel-image symbol, the slab object (its cache, its slab, and whether it is allocated or on
// a freelist), the task whose task_struct or kernel stack it is in, the vmalloc area, and the
// struct page of its physical page (flags decoded by the kernel's enum pageflags).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"
#include "lib/kernel/slab.h"

namespace coroner {

struct PageLine {
  uint64_t page = 0, phys = 0, mapping = 0, index = 0;
  int32_t count = 0;
  uint64_t flags = 0;
  std::string names;  // "slab,head"
};

struct KmemAddress {
  uint64_t address = 0;
  std::string symbol;  // kernel image: "init_task" or "init_task+16"
  char symbol_type = 0;
  // Slab object.
  std::optional<SlabCacheInfo> cache;
  uint64_t slab = 0, slab_memory = 0, object = 0;
  int node = 0;
  uint64_t slab_total = 0, slab_free = 0;
  bool object_free = false;
  std::string slab_note;  // e.g. 7.x node barns are not searched
  std::optional<TaskInfo> task;  // its task_struct or kernel stack
  size_t idle_tasks = 0;         // how many PID 0 tasks there are (crash's "(1 of 2)")
  struct Vmap {
    uint64_t area = 0, vm = 0, start = 0, end = 0;
  };
  std::optional<Vmap> vmap;
  std::optional<PageLine> page;
  std::string error;  // e.g. not mapped
};

Result<std::vector<KmemAddress>> RunKmemAddresses(const Session& s, const std::vector<std::string>& args);

// The struct page line of a physical address (vtop and kmem end with it).
Result<PageLine> PageLineOf(const Session& s, uint64_t phys);

}  // namespace coroner
