// Kernel types from BTF: the raw .BTF blob that a kernel built with CONFIG_DEBUG_INFO_BTF keeps
// in memory between __start_BTF and __stop_BTF (so no vmlinux is needed), or a vmlinux's .BTF
// section. Parsed with libbpf (btf__new) and converted into a TypeTable.
//
//   CORONER_TRY(TypeTable types, LoadBtfTypes(blob));
//   CORONER_TRY(auto blob, ReadKernelBtf(kernel_memory, start_BTF, stop_BTF));
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lib/base/error.h"
#include "lib/debuginfo/types.h"
#include "lib/memory/kernel_memory.h"

namespace coroner {

Result<TypeTable> LoadBtfTypes(std::span<const std::byte> blob);

// Appends a module's split BTF (struct module.btf_data: its own types, referring to the kernel's
// by id) to a table loaded from `base_blob`; returns how many types it added. Call
// table.Index() after the last one.
Result<size_t> AddSplitBtfTypes(TypeTable& table, std::span<const std::byte> base_blob,
                                std::span<const std::byte> split_blob);

// A BTF blob (what LoadBtfTypes reads) of the types `use` recorded in `types` and what they
// need: each in full with every type it holds by value; behind a pointer, declarations only (a
// struct or union reached only through pointers becomes a forward declaration, so `struct foo *`
// still prints as such); and the per-CPU variables looked up, as VARs. Ids are renumbered; type
// tags (__rcu, __user) are dropped, as the TypeTable does. Types at `limit` and beyond (modules'
// split BTF, appended after the kernel's) are left out: their ids are the modules' to give.
// For the triage file, which keeps the types its analysis used instead of the kernel's whole BTF.
Result<std::vector<std::byte>> WriteBtfSubset(const TypeTable& types, const TypeUse& use, TypeId limit);

// Reads [start, stop) from kernel memory (bounded, with a clear error on a missing page).
Result<std::vector<std::byte>> ReadKernelBtf(const VirtualMemory& mem, uint64_t start, uint64_t stop);

}  // namespace coroner
