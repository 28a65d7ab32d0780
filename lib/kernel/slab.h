// SLUB caches from slab_caches: name, object size, objects in use and in total, slabs and slab
// size, the way crash's `kmem -s` counts them: total and slabs from each node, free objects in
// the nodes' partial slabs plus, per CPU, the CPU slab (its unused objects and its lockless
// freelist, decoded through CONFIG_SLAB_FREELIST_HARDENED's obfuscation) and its partial slabs.
// Kernels with sheaves (7.x: no kmem_cache_cpu) count the objects held in each CPU's main and
// spare sheaf and in the nodes' barns instead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/kernel/kernel.h"

namespace coroner {

struct SlabCacheInfo {
  uint64_t cache = 0;  // struct kmem_cache
  std::string name;
  uint64_t object_size = 0;  // kmem_cache.object_size (what the user asked for)
  uint64_t size = 0;         // kmem_cache.size (with metadata and alignment)
  uint64_t objects_per_slab = 0;
  uint64_t slab_size = 0;    // bytes
  uint64_t slabs = 0;
  uint64_t total = 0;
  uint64_t free = 0;
  std::string error;  // counting failed part-way: which structure could not be read
  uint64_t allocated() const { return total > free ? total - free : 0; }
};

Result<std::vector<SlabCacheInfo>> ReadSlabCaches(const Kernel& k);

}  // namespace coroner
