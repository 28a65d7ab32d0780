// kallsyms: the kernel's own compressed symbol table, decoded from a dump's memory, so symbols
// work with no vmlinux at all.
//
//   CORONER_TRY(auto kmem, KernelMemory::Create(*dump->memory, *dump->info.vmcoreinfo));
//   CORONER_TRY(Kallsyms ks, ReadKallsyms(*kmem, *dump->info.vmcoreinfo));
//   const Symbol* s = ks.symbols.Find("jiffies");
//
// What is in memory (scripts/kallsyms.c writes it, kernel/kallsyms.c reads it):
//   kallsyms_num_syms      u32 count (unsigned long, 8 bytes, in older kernels)
//   kallsyms_names         per symbol: a length (number of tokens) then that many token bytes.
//                          Since 6.1 a length >= 0x80 takes two bytes, low 7 bits first
//                          (73bbb94466fd "kallsyms: support "big" kernel symbols"). The first
//                          expanded character is the type letter (T, t, D, ...).
//   kallsyms_markers       u32 offset into kallsyms_names of every 256th symbol (unsigned long
//                          in older kernels)
//   kallsyms_token_table   256 NUL-terminated token strings back to back
//   kallsyms_token_index   256 u16 offsets of those strings in the token table
//   kallsyms_seqs_of_names symbol indexes in name order (6.2+, and Debian's 6.1); not needed
//                          here, SymbolTable sorts names itself
//   and the addresses, in one of four encodings (KallsymsAddressing below).
// Layout: up to 6.3 the offsets and relative base come first (offsets, relative_base,
// num_syms, names, markers, [seqs_of_names,] token_table, token_index; 8-byte aligned labels);
// 6.4 moved them after the token index ("scripts/kallsyms: change the output order": num_syms,
// names, markers, token_table, token_index, offsets, relative_base, seqs_of_names); 7.x drops
// relative_base and aligns labels to 4 instead of 8.
//
// VMCOREINFO names the tables on 6.0+ (5fd8fea935a1 "vmcoreinfo: include kallsyms symbols").
// On older kernels they are found by searching the kernel image downwards from init_top_pgt
// (the start of .data, just above .rodata where the tables are) to _stext: the token table
// (its single-character tokens "0".."9" sit back to back), the token index after it, the
// markers before it, and kallsyms_num_syms + kallsyms_names before those, each step checked
// against the others; pages the dump left out read as holes. Whatever is found, or named,
// must then decode completely: the names end exactly at kallsyms_markers and agree with it, the
// addresses come out sorted, and every VMCOREINFO symbol in the table has VMCOREINFO's
// address (that is also how the address encoding is chosen).
//
// Module symbols (struct module's kallsyms, per loaded module) are a separate, later piece.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lib/base/error.h"
#include "lib/debuginfo/symbol_table.h"
#include "lib/dump/vmcoreinfo.h"

namespace coroner {

class KernelMemory;

// Reads kernel virtual memory: fills `out` from `va` or fails.
using KernelReadFn = std::function<Result<void>(uint64_t va, std::span<std::byte> out)>;

// Kernel virtual addresses of the kallsyms tables.
struct KallsymsLocations {
  std::optional<uint64_t> num_syms;
  std::optional<uint64_t> names;
  std::optional<uint64_t> markers;
  std::optional<uint64_t> token_table;
  std::optional<uint64_t> token_index;
  std::optional<uint64_t> offsets;
  std::optional<uint64_t> relative_base;
  std::optional<uint64_t> addresses;
};

enum class KallsymsAddressing {
  // kallsyms_addresses[]: 64-bit addresses (!CONFIG_KALLSYMS_BASE_RELATIVE; the option went
  // in 2024, "kallsyms: get rid of code for absolute kallsyms").
  kAbsolute,
  // kallsyms_offsets[] (s32): >= 0 is an absolute value (a per-CPU offset), < 0 means
  // relative_base - 1 - offset (CONFIG_KALLSYMS_ABSOLUTE_PERCPU: x86_64 SMP from 4.6 until
  // 01157ddc58dc "kallsyms: Remove KALLSYMS_ABSOLUTE_PERCPU" in 6.15).
  kRelativeAbsolutePercpu,
  // relative_base + (u32)offset (other architectures; x86_64 from 6.15).
  kRelative,
  // &kallsyms_offsets[i] + (s32)offset: place-relative, no relative_base ("kallsyms: Get rid
  // of kallsyms relative base", Ard Biesheuvel, 2026; 7.x).
  kPlaceRelative,
};

std::string_view KallsymsAddressingName(KallsymsAddressing a);

struct KallsymsInput {
  KernelReadFn read;
  // Where the tables are; what is missing is searched for in [search_start, search_end).
  KallsymsLocations locations;
  uint64_t search_start = 0;
  uint64_t search_end = 0;
  // Addresses known to be true (VMCOREINFO SYMBOL()s of kernel-image symbols, e.g. _stext,
  // init_uts_ns): they choose between address encodings and validate the result.
  std::vector<std::pair<std::string, uint64_t>> known_symbols;
  // Kernel major.minor from OSRELEASE, when known: two-byte name lengths exist from 6.1.
  std::optional<std::pair<int, int>> kernel_version;
  // When not empty, the table keeps only the symbols of these names (the whole table is still
  // decoded and checked): a caller that needs a dozen symbols skips sorting 150,000.
  std::vector<std::string_view> only_names;
};

// How the table was found and decoded.
struct KallsymsInfo {
  KallsymsLocations locations;  // as used
  bool searched = false;        // found by searching memory rather than from VMCOREINFO
  KallsymsAddressing addressing = KallsymsAddressing::kRelative;
  bool two_byte_lengths = false;
  uint32_t num_syms = 0;
  uint64_t relative_base = 0;  // when the encoding has one
  uint64_t names_bytes = 0;    // size of kallsyms_names
  size_t known_checked = 0;    // known symbols found in the table
  size_t known_matched = 0;    // ... whose address agreed
};

struct Kallsyms {
  SymbolTable symbols;
  KallsymsInfo info;
};

// Decodes kallsyms from any kernel memory (a dump, a vmlinux file's sections, test bytes).
Result<Kallsyms> DecodeKallsyms(const KallsymsInput& input);

// The input for a dump: locations and known symbols from VMCOREINFO, search range the kernel
// image from _stext (or the default load address + KERNELOFFSET).
KallsymsInput KallsymsInputFromVmcoreinfo(const Vmcoreinfo& vi, KernelReadFn read);
// Decodes the dump's kallsyms through its kernel memory (only_names: see KallsymsInput).
Result<Kallsyms> ReadKallsyms(const KernelMemory& kmem, const Vmcoreinfo& vi,
                              std::vector<std::string_view> only_names = {});

// "6.12.117+deb13-cloud-amd64" -> {6, 12}.
std::optional<std::pair<int, int>> ParseKernelVersion(std::string_view osrelease);

}  // namespace coroner
