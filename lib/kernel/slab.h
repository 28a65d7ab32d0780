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

// The slab object an address is in: its slab (the head struct page / struct slab), the slab's
// memory, object count, the object, and whether it is free (on the slab's freelist, a CPU's
// lockless freelist for its CPU slab, or in a CPU's sheaf on 7.x).
struct SlabObject {
  uint64_t cache = 0;
  uint64_t slab = 0;
  uint64_t memory = 0;
  uint64_t objects = 0;
  uint64_t free = 0;    // free objects found in this slab
  uint64_t object = 0;  // 0 when the address is in the slab's tail, past its objects
  bool object_free = false;
  std::string note;     // what was not searched
};
// `head_page` is the compound head's struct page of the address's page, `memory` its direct-map
// address. Not a slab page (its slab_cache is none of `caches`): nullopt.
Result<std::optional<SlabObject>> FindSlabObject(const Kernel& k, const std::vector<SlabCacheInfo>& caches,
                                                 uint64_t head_page, uint64_t memory, uint64_t address);

}  // namespace coroner
