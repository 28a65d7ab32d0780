#include "lib/commands/walk.h"

#include <fmt/format.h>

#include <set>

#include "lib/commands/eval.h"
#include "lib/commands/memory_commands.h"
#include "lib/kernel/containers.h"
#include "lib/kernel/value_format.h"

namespace coroner {
namespace {

constexpr size_t kLimit = 1 << 20;

// An offset given as a number of bytes or as "struct.member[.member...]".
Result<uint64_t> ParseOffset(const Kernel& k, const std::string& v) {
  if (auto dot = v.find('.'); dot != std::string::npos && !std::isdigit(static_cast<unsigned char>(v[0]))) {
    CORONER_TRY(Field f, k.FieldOf(v.substr(0, dot), v.substr(dot + 1)));
    return f.offset;
  }
  return EvaluateExpression(v, nullptr);
}

Result<uint64_t> ParseStart(const Session& s, const std::string& v) {
  if (v.empty()) return Error(ErrorCode::kInvalidArgument, "a start address or symbol is required");
  CORONER_TRY(const SymbolTable* syms, s.AllSymbols());
  if (const Symbol* sym = syms->Find(v)) return sym->address;
  if (auto hex = ParseHexArg(v)) return *hex;  // crash reads a bare number as hex
  return EvaluateExpression(v, syms);
}

// -s struct[.m1,m2]: each entry's structure, or some of its members, in gdb's layout.
Result<void> ShowEntries(const Session& s, const std::string& show, WalkResult& r) {
  if (show.empty()) return Ok();
  CORONER_TRY(const Kernel* k, s.GetKernel());
  CORONER_TRY(const SymbolTable* syms, s.AllSymbols());
  auto dot = show.find('.');
  r.struct_name = show.substr(0, dot);
  std::vector<std::string> members;
  for (size_t pos = dot; pos != std::string::npos && pos < show.size();) {
    size_t comma = show.find(',', pos + 1);
    members.push_back(show.substr(pos + 1, comma == std::string::npos ? std::string::npos : comma - pos - 1));
    pos = comma;
  }
  CORONER_TRY(TypeId sid, k->StructType(r.struct_name));
  ValueFormatter vf(k->types(), k->memory(), syms);
  for (WalkEntry& e : r.entries) {
    if (members.empty()) {
      CORONER_TRY(e.value, vf.Format(sid, e.address, false));
      continue;
    }
    for (const std::string& m : members) {
      CORONER_TRY(Field f, k->FieldOf(r.struct_name, m));
      CORONER_TRY(std::string v, vf.Format(f.type, e.address + f.offset, false));
      e.members.emplace_back(m, std::move(v));
    }
  }
  return Ok();
}

// The nodes of a red-black tree from `node`, pre-order (crash's default) or in order (-l), with
// each node's position from the root.
Result<std::vector<std::pair<uint64_t, std::string>>> RbWalk(const Kernel& k, uint64_t node, bool in_order) {
  CORONER_TRY(Field left_f, k.FieldOf("rb_node", "rb_left"));
  CORONER_TRY(Field right_f, k.FieldOf("rb_node", "rb_right"));
  std::vector<std::pair<uint64_t, std::string>> out;
  std::set<uint64_t> seen;
  // Explicit stack: (node, position, children pushed yet).
  struct Item {
    uint64_t node;
    std::string pos;
    bool expanded;
  };
  std::vector<Item> stack;
  if (node) stack.push_back({node, "root", false});
  while (!stack.empty()) {
    Item it = std::move(stack.back());
    stack.pop_back();
    if (it.expanded) {
      out.emplace_back(it.node, it.pos);
      continue;
    }
    if (!seen.insert(it.node).second) {
      return Error(ErrorCode::kBadData, fmt::format("red-black tree: node {:#x} ({}) is reached twice", it.node, it.pos));
    }
    if (seen.size() > kLimit) return Error(ErrorCode::kRecursion, "red-black tree: more than 1048576 nodes");
    CORONER_TRY(uint64_t left, k.ReadU64(it.node + left_f.offset));
    CORONER_TRY(uint64_t right, k.ReadU64(it.node + right_f.offset));
    if (in_order) {
      if (right) stack.push_back({right, it.pos + "/r", false});
      stack.push_back({it.node, it.pos, true});
      if (left) stack.push_back({left, it.pos + "/l", false});
    } else {
      out.emplace_back(it.node, it.pos);
      if (right) stack.push_back({right, it.pos + "/r", false});
      if (left) stack.push_back({left, it.pos + "/l", false});
    }
  }
  return out;
}

}  // namespace

Result<WalkResult> RunList(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(const Kernel* k, s.GetKernel());
  uint64_t offset = 0;
  std::string show, start_arg;
  bool head_only = false, head_entry = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "-o" || a == "-s") && i + 1 < args.size()) {
      if (a == "-s") {
        show = args[++i];
      } else {
        CORONER_TRY(offset, ParseOffset(*k, args[++i]));
      }
    } else if (a == "-H") {
      head_only = true;
    } else if (a == "-h") {
      head_entry = true;
    } else if (!a.empty() && a[0] == '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    } else if (start_arg.empty() && i + 1 < args.size() && a.find('.') != std::string::npos &&
               !std::isdigit(static_cast<unsigned char>(a[0]))) {
      // crash's `list [[-o] offset] ... start`: a struct.member before the start is the offset.
      CORONER_TRY(offset, ParseOffset(*k, a));
    } else {
      if (!start_arg.empty()) {
        return Error(ErrorCode::kInvalidArgument, fmt::format("two start addresses: {} and {}", start_arg, a));
      }
      start_arg = a;
    }
  }
  CORONER_TRY(uint64_t start, ParseStart(s, start_arg));
  WalkResult r;
  std::set<uint64_t> seen;
  if (head_only || head_entry) {
    uint64_t head = head_entry ? start + offset : start;
    // -h: the start is an entry (crash shows it first); -H: a bare list_head, not shown.
    if (head_entry) r.entries.push_back({start, {}, {}, {}});
    for (uint64_t cur = head;;) {
      CORONER_TRY(uint64_t next, k->ReadU64(cur));
      if (next == head || next == 0) break;
      if (!seen.insert(next).second) {
        return Error(ErrorCode::kBadData, fmt::format("list at {:#x}: loops back to {:#x} without reaching the head", head, next));
      }
      if (r.entries.size() >= kLimit) return Error(ErrorCode::kRecursion, "more than 1048576 entries");
      r.entries.push_back({next - offset, {}, {}, {}});
      cur = next;
    }
  } else {
    for (uint64_t cur = start; cur;) {
      if (!seen.insert(cur).second) break;  // back at a visited entry: a circular list
      if (r.entries.size() >= kLimit) return Error(ErrorCode::kRecursion, "more than 1048576 entries");
      r.entries.push_back({cur, {}, {}, {}});
      CORONER_TRY(uint64_t next, k->ReadU64(cur + offset));
      cur = next == 0 ? 0 : next - offset;
      if (cur == start) break;
    }
  }
  CORONER_TRY_VOID(ShowEntries(s, show, r));
  return r;
}

Result<WalkResult> RunTree(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(const Kernel* k, s.GetKernel());
  std::string type = "rbtree", show, start_arg;
  uint64_t root_offset = 0, node_offset = 0;
  bool in_order = false, positions = false, start_is_node = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has_value = i + 1 < args.size();
    if (a == "-t" && has_value) {
      type = args[++i];
    } else if (a == "-r" && has_value) {
      CORONER_TRY(root_offset, ParseOffset(*k, args[++i]));
    } else if (a == "-o" && has_value) {
      CORONER_TRY(node_offset, ParseOffset(*k, args[++i]));
    } else if (a == "-s" && has_value) {
      show = args[++i];
    } else if (a == "-l") {
      in_order = true;
    } else if (a == "-p") {
      positions = true;
    } else if (a == "-N") {
      start_is_node = true;
    } else if (!a.empty() && a[0] == '-') {
      return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    } else {
      start_arg = a;
    }
  }
  // crash's abbreviations: ra, rb, x.
  if (type == "ra") type = "radix";
  if (type == "rb") type = "rbtree";
  if (type == "x") type = "xarray";
  if (type == "m") type = "maple";
  CORONER_TRY(uint64_t start, ParseStart(s, start_arg));
  WalkResult r;
  if (type == "rbtree") {
    uint64_t node = start;
    if (!start_is_node) {
      CORONER_TRY(node, k->ReadU64(start + root_offset));  // rb_root.rb_node
    }
    CORONER_TRY(auto nodes, RbWalk(*k, node, in_order));
    for (auto& [n, pos] : nodes) r.entries.push_back({n - node_offset, positions ? "position: " + pos : "", {}, {}});
  } else if (type == "radix" || type == "xarray") {
    if (start_is_node) return Error(ErrorCode::kUnsupported, "-N applies to red-black trees only");
    if (node_offset) return Error(ErrorCode::kInvalidArgument, "-o applies to red-black trees only");
    CORONER_TRY(auto entries, XArrayEntries(*k, start + root_offset));
    for (auto& [index, entry] : entries) {
      r.entries.push_back({entry, positions ? fmt::format("index: {}", index) : "", {}, {}});
    }
  } else if (type == "maple") {
    if (start_is_node) return Error(ErrorCode::kUnsupported, "-N applies to red-black trees only");
    CORONER_TRY(auto entries, MapleTreeEntries(*k, start + root_offset));
    for (const MapleEntry& e : entries) {
      r.entries.push_back({e.entry, positions ? fmt::format("range: {:#x}-{:#x}", e.first, e.last) : "", {}, {}});
    }
  } else {
    return Error(ErrorCode::kInvalidArgument, fmt::format("unknown tree type {} (rbtree, radix, xarray, maple)", type));
  }
  CORONER_TRY_VOID(ShowEntries(s, show, r));
  return r;
}

}  // namespace coroner
