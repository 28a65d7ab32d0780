// `list` and `tree`: walking the kernel's linked lists and trees from an address, as crash's
// commands of those names do, with each entry optionally shown as a structure (-s).
//
//   list [-o OFFSET|struct.member] [-s struct[.member,...]] [-H|-h] START
//     START is the first entry; with -H a list_head that is not an entry itself; with -h an
//     entry whose list_head sits at the offset.
//   tree [-t rbtree|radix|xarray|maple] [-r OFFSET|struct.member] [-o OFFSET|struct.member]
//        [-s struct[.member,...]] [-l] [-p] [-N] START
//     START is (at -r OFFSET inside it) an rb_root, xarray / radix_tree_root or maple_tree; with
//     -N an rb_node. rbtree entries are node - (-o OFFSET), in crash's order (pre-order: the root,
//     its left subtree, its right one) or with -l in sorted order; -p shows each node's
//     position ("root/l/r"), or an xarray/maple entry's index or range. The maple tree (6.1+
//     VMAs) is coroner's addition: crash 8.0.2 has no maple walker.
//
//   CORONER_TRY(WalkResult r, RunTree(session, {"-t", "rbtree", "-o", "vm_area_struct.vm_rb", "..."}));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct WalkEntry {
  uint64_t address = 0;   // the entry (a containing structure, or an xarray/maple value)
  std::string position;   // -p: "root/l/r", "index: 3" or "range: 0x1000-0x1fff"
  std::optional<std::string> value;  // -s struct: the whole structure in gdb's layout
  std::vector<std::pair<std::string, std::string>> members;  // -s struct.m1,m2
};

struct WalkResult {
  std::string struct_name;  // -s
  std::vector<WalkEntry> entries;
};

Result<WalkResult> RunList(const Session& s, const std::vector<std::string>& args);
Result<WalkResult> RunTree(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
