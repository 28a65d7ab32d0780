#include "lib/kernel/containers.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

namespace coroner {
namespace {

// XArray and maple tree node pointers are "internal" entries: low bits 10, above 4096
// (include/linux/xarray.h xa_is_node; maple_tree.h uses the same encoding).
bool IsInternal(uint64_t entry) { return (entry & 3) == 2; }
bool IsNode(uint64_t entry) { return IsInternal(entry) && entry > 4096; }

// The element count of an array member.
Result<uint64_t> ArrayCount(const Kernel& k, const Field& f, std::string_view what) {
  const Type& t = k.types().Get(k.types().Resolve(f.type));
  if (t.kind != TypeKind::kArray || t.count == 0) {
    return Error(ErrorCode::kBadData, fmt::format("{} is not an array in the kernel's types", what));
  }
  return t.count;
}

}  // namespace

Result<std::vector<uint64_t>> RbTreeNodes(const Kernel& k, uint64_t root, size_t limit) {
  CORONER_TRY(Field left, k.FieldOf("rb_node", "rb_left"));
  CORONER_TRY(Field right, k.FieldOf("rb_node", "rb_right"));
  CORONER_TRY(Field top, k.FieldOf("rb_root", "rb_node"));
  std::vector<uint64_t> out;
  std::vector<uint64_t> stack;
  std::unordered_set<uint64_t> seen;
  CORONER_TRY(uint64_t node, k.ReadU64(root + top.offset));
  auto check = [&](uint64_t n) -> Result<void> {
    if (!IsKernelAddress(n)) {
      return Error(ErrorCode::kBadData,
                   fmt::format("rb tree at {:#x}: node {:#x} is not a kernel address", root, n));
    }
    if (!seen.insert(n).second) {
      return Error(ErrorCode::kBadData, fmt::format("rb tree at {:#x}: node {:#x} seen twice", root, n));
    }
    if (seen.size() > limit) {
      return Error(ErrorCode::kRecursion, fmt::format("rb tree at {:#x}: more than {} nodes", root, limit));
    }
    return Ok();
  };
  while (node || !stack.empty()) {
    while (node) {
      CORONER_TRY_VOID(check(node));
      stack.push_back(node);
      CORONER_TRY(node, k.ReadU64(node + left.offset));
    }
    node = stack.back();
    stack.pop_back();
    out.push_back(node);
    CORONER_TRY(node, k.ReadU64(node + right.offset));
  }
  return out;
}

Result<std::vector<std::pair<uint64_t, uint64_t>>> XArrayEntries(const Kernel& k, uint64_t xa,
                                                                 size_t limit) {
  CORONER_TRY(Field head, k.FieldOf("xarray", "xa_head"));
  CORONER_TRY(Field shift_f, k.FieldOf("xa_node", "shift"));
  CORONER_TRY(Field slots_f, k.FieldOf("xa_node", "slots"));
  CORONER_TRY(uint64_t nslots, ArrayCount(k, slots_f, "xa_node.slots"));
  std::vector<std::pair<uint64_t, uint64_t>> out;
  CORONER_TRY(uint64_t root, k.ReadU64(xa + head.offset));
  if (!IsNode(root)) {
    if (root && !IsInternal(root)) out.emplace_back(0, root);
    return out;
  }
  struct Pending {
    uint64_t node;
    uint64_t base;
    int depth;
  };
  std::vector<Pending> todo{{root - 2, 0, 0}};
  size_t visited = 0;
  while (!todo.empty()) {
    Pending p = todo.back();
    todo.pop_back();
    if (p.depth > 12 || ++visited > limit) {
      return Error(ErrorCode::kRecursion, fmt::format("xarray at {:#x}: too deep or too many nodes", xa));
    }
    if (!IsKernelAddress(p.node)) {
      return Error(ErrorCode::kBadData, fmt::format("xarray at {:#x}: node {:#x} is not a kernel address", xa, p.node));
    }
    CORONER_TRY(uint64_t shift, k.ReadUnsigned(p.node + shift_f.offset, 1));
    if (shift > 63) {
      return Error(ErrorCode::kBadData, fmt::format("xarray at {:#x}: node {:#x} has shift {}", xa, p.node, shift));
    }
    // Children pushed in reverse so the walk stays in index order.
    std::vector<Pending> children;
    for (uint64_t i = 0; i < nslots; ++i) {
      CORONER_TRY(uint64_t slot, k.ReadU64(p.node + slots_f.offset + 8 * i));
      if (!slot) continue;
      uint64_t index = p.base + (i << shift);
      if (IsNode(slot)) {
        if (shift == 0) {
          return Error(ErrorCode::kBadData, fmt::format("xarray at {:#x}: leaf node {:#x} holds a node", xa, p.node));
        }
        children.push_back({slot - 2, index, p.depth + 1});
      } else if (!IsInternal(slot)) {
        // A multi-index entry (shift > 0) is reported at its first index.
        out.emplace_back(index, slot);
        if (out.size() > limit) {
          return Error(ErrorCode::kRecursion, fmt::format("xarray at {:#x}: more than {} entries", xa, limit));
        }
      }
    }
    for (auto it = children.rbegin(); it != children.rend(); ++it) todo.push_back(*it);
  }
  // Entries of a node come before those of its later siblings' children; sort by index.
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// include/linux/maple_tree.h: enum maple_type, and the node pointer encoding.
enum MapleType { kMapleDense = 0, kMapleLeaf64 = 1, kMapleRange64 = 2, kMapleArange64 = 3 };
constexpr uint64_t kMapleNodeMask = 255;
constexpr int kMapleHeightMax = 31;

struct MapleLayout {
  Field range_pivot, range_slot, range_meta_end;
  uint64_t range_pivots = 0, range_slots = 0;
  Field arange_pivot, arange_slot, arange_meta_end;
  uint64_t arange_pivots = 0, arange_slots = 0;
  Field dense_slot;
  uint64_t dense_slots = 0;
};

Result<MapleLayout> ReadMapleLayout(const Kernel& k) {
  MapleLayout l;
  CORONER_TRY(l.range_pivot, k.FieldOf("maple_range_64", "pivot"));
  CORONER_TRY(l.range_slot, k.FieldOf("maple_range_64", "slot"));
  CORONER_TRY(l.range_meta_end, k.FieldOf("maple_range_64", "meta.end"));
  CORONER_TRY(l.range_pivots, ArrayCount(k, l.range_pivot, "maple_range_64.pivot"));
  CORONER_TRY(l.range_slots, ArrayCount(k, l.range_slot, "maple_range_64.slot"));
  CORONER_TRY(l.arange_pivot, k.FieldOf("maple_arange_64", "pivot"));
  CORONER_TRY(l.arange_slot, k.FieldOf("maple_arange_64", "slot"));
  CORONER_TRY(l.arange_meta_end, k.FieldOf("maple_arange_64", "meta.end"));
  CORONER_TRY(l.arange_pivots, ArrayCount(k, l.arange_pivot, "maple_arange_64.pivot"));
  CORONER_TRY(l.arange_slots, ArrayCount(k, l.arange_slot, "maple_arange_64.slot"));
  CORONER_TRY(l.dense_slot, k.FieldOf("maple_node", "slot"));
  CORONER_TRY(l.dense_slots, ArrayCount(k, l.dense_slot, "maple_node.slot"));
  return l;
}

struct MapleWalk {
  const Kernel& k;
  const MapleLayout& l;
  uint64_t tree;
  size_t limit;
  size_t nodes = 0;
  std::vector<MapleEntry> out;

  Result<void> Node(uint64_t enode, uint64_t min, uint64_t max, int depth) {
    if (depth > kMapleHeightMax || ++nodes > limit) {
      return Error(ErrorCode::kRecursion, fmt::format("maple tree at {:#x}: too deep or too many nodes", tree));
    }
    uint64_t node = enode & ~kMapleNodeMask;
    auto type = static_cast<MapleType>((enode >> 3) & 0xf);
    if (!IsKernelAddress(node)) {
      return Error(ErrorCode::kBadData,
                   fmt::format("maple tree at {:#x}: node {:#x} is not a kernel address", tree, node));
    }
    if (type == kMapleDense) {
      for (uint64_t i = 0; i < l.dense_slots && min + i <= max; ++i) {
        CORONER_TRY(uint64_t slot, k.ReadU64(node + l.dense_slot.offset + 8 * i));
        if (slot && !IsInternal(slot)) out.push_back({min + i, min + i, slot});
      }
      return Ok();
    }
    if (type != kMapleLeaf64 && type != kMapleRange64 && type != kMapleArange64) {
      return Error(ErrorCode::kUnsupported,
                   fmt::format("maple tree at {:#x}: node {:#x} has unknown type {}", tree, node, static_cast<int>(type)));
    }
    bool arange = type == kMapleArange64;
    const Field& pivot_f = arange ? l.arange_pivot : l.range_pivot;
    const Field& slot_f = arange ? l.arange_slot : l.range_slot;
    uint64_t npivots = arange ? l.arange_pivots : l.range_pivots;
    uint64_t nslots = arange ? l.arange_slots : l.range_slots;
    std::vector<uint64_t> pivots(npivots);
    for (uint64_t i = 0; i < npivots; ++i) {
      CORONER_TRY(pivots[i], k.ReadU64(node + pivot_f.offset + 8 * i));
    }
    // Where the node's data ends (lib/maple_tree.c ma_data_end): arange nodes and range nodes
    // whose last pivot is unset keep the end in their metadata.
    uint64_t end;
    if (arange || pivots[npivots - 1] == 0) {
      CORONER_TRY(end, k.ReadUnsigned(node + (arange ? l.arange_meta_end : l.range_meta_end).offset, 1));
    } else if (pivots[npivots - 1] == max) {
      end = npivots - 1;
    } else {
      end = npivots;
    }
    if (end >= nslots) {
      return Error(ErrorCode::kBadData,
                   fmt::format("maple tree at {:#x}: node {:#x} claims {} slots", tree, node, end + 1));
    }
    uint64_t lo = min;
    for (uint64_t i = 0; i <= end; ++i) {
      uint64_t hi = i < npivots && (i == 0 || pivots[i] != 0) ? pivots[i] : max;
      if (i == end && hi < lo) hi = max;
      if (hi < lo || hi > max) {
        return Error(ErrorCode::kBadData,
                     fmt::format("maple tree at {:#x}: node {:#x} pivot {} ({:#x}) is out of order", tree, node, i, hi));
      }
      CORONER_TRY(uint64_t slot, k.ReadU64(node + slot_f.offset + 8 * i));
      if (slot) {
        if (type == kMapleLeaf64) {
          if (!IsInternal(slot)) {
            out.push_back({lo, hi, slot});
            if (out.size() > limit) {
              return Error(ErrorCode::kRecursion, fmt::format("maple tree at {:#x}: more than {} entries", tree, limit));
            }
          }
        } else {
          CORONER_TRY_VOID(Node(slot, lo, hi, depth + 1));
        }
      }
      if (hi >= max) break;
      lo = hi + 1;
    }
    return Ok();
  }
};

}  // namespace

Result<std::vector<MapleEntry>> MapleTreeEntries(const Kernel& k, uint64_t tree, size_t limit) {
  CORONER_TRY(Field root_f, k.FieldOf("maple_tree", "ma_root"));
  CORONER_TRY(uint64_t root, k.ReadU64(tree + root_f.offset));
  if (!IsNode(root)) {
    std::vector<MapleEntry> out;
    if (root && !IsInternal(root)) out.push_back({0, 0, root});
    return out;
  }
  CORONER_TRY(MapleLayout layout, ReadMapleLayout(k));
  MapleWalk w{k, layout, tree, limit, 0, {}};
  CORONER_TRY_VOID(w.Node(root, 0, ~uint64_t{0}, 0));
  return std::move(w.out);
}

}  // namespace coroner
