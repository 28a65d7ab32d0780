// Walkers for the kernel's generic containers that hold the objects the inspection commands
// need: red-black trees (mounts on 6.8+, VMAs before 6.1), XArrays / IDRs (SysV IPC ids) and
// maple trees (VMAs on 6.1+). Layouts come from the kernel's types; every walk is bounded and
// says which node it could not read.
//
//   CORONER_TRY(auto vmas, MapleTreeEntries(k, mm + mm_mt_offset));
//   for (const MapleEntry& e : vmas) ... e.first, e.last, e.entry (a vm_area_struct) ...
//   CORONER_TRY(auto nodes, RbTreeNodes(k, root));      // rb_node addresses, in order
//   CORONER_TRY(auto ids, XArrayEntries(k, xa));        // (index, entry), in index order
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "lib/kernel/kernel.h"

namespace coroner {

// The rb_node addresses of the tree rooted at `root` (a struct rb_root), in order (leftmost
// first). Subtract the member's offset to get the containing structures.
Result<std::vector<uint64_t>> RbTreeNodes(const Kernel& k, uint64_t root, size_t limit = 1 << 20);

// The present entries of an XArray (struct xarray; an IDR's idr_rt is one), in index order.
// Internal entries (retry, zero, sibling) are skipped.
Result<std::vector<std::pair<uint64_t, uint64_t>>> XArrayEntries(const Kernel& k, uint64_t xa,
                                                                 size_t limit = 1 << 20);

// One present range of a maple tree: [first, last] maps to `entry`.
struct MapleEntry {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t entry = 0;
};

// The non-NULL entries of a maple tree (struct maple_tree), in index order. Decodes the node
// type from the encoded node pointer (bits 3..6: dense, leaf_64, range_64, arange_64), as
// include/linux/maple_tree.h (6.1+) defines it.
Result<std::vector<MapleEntry>> MapleTreeEntries(const Kernel& k, uint64_t tree,
                                                 size_t limit = 1 << 20);

}  // namespace coroner
