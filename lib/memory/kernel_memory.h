// The kernel's virtual address space in a dump, x86_64: kernel text/data
// (__START_KERNEL_map + phys_base, KASLR-aware), and everything else (direct map, vmalloc,
// vmemmap, per-CPU, modules) through the kernel's own page tables (init_top_pgt), 4- or
// 5-level. Needs only VMCOREINFO, so no vmlinux.
//
//   CORONER_TRY(auto kmem, KernelMemory::Create(*dump->memory, *dump->info.vmcoreinfo));
//   uint64_t jiffies;
//   CORONER_TRY_VOID(kmem->ReadU64(sym_addr, jiffies));
//   CORONER_TRY(PageWalk w, kmem->Translate(0xffff888000100000));
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "lib/arch/x86_64_paging.h"
#include "lib/base/error.h"
#include "lib/dump/physical_memory.h"
#include "lib/dump/vmcoreinfo.h"

namespace coroner {

// Anything that reads a virtual address space: the kernel's, a task's, or a test's fake.
class VirtualMemory {
 public:
  virtual ~VirtualMemory() = default;
  virtual Result<void> Read(uint64_t va, std::span<std::byte> out) const = 0;
  Result<uint64_t> ReadU64(uint64_t va) const;
  Result<uint32_t> ReadU32(uint64_t va) const;
  Result<uint16_t> ReadU16(uint64_t va) const;
  // Reads a NUL-terminated string of at most max_len bytes.
  Result<std::string> ReadCString(uint64_t va, size_t max_len) const;
};

class KernelMemory final : public VirtualMemory {
 public:
  static constexpr uint64_t kStartKernelMap = 0xffffffff80000000ull;  // __START_KERNEL_map
  static constexpr uint64_t kKernelImageLimit = 0xffffffffc0000000ull;  // modules start here

  static Result<std::unique_ptr<KernelMemory>> Create(const PhysicalMemory& mem, const Vmcoreinfo& vi);

  const PhysicalMemory& physical() const { return mem_; }
  const X86_64Paging& paging() const { return paging_; }
  bool five_level() const { return paging_.five_level(); }
  uint64_t phys_base() const { return phys_base_; }
  uint64_t kaslr_offset() const { return kaslr_offset_; }
  PhysAddr pgd() const { return pgd_; }  // physical address of init_top_pgt

  // Full page-table walk (what `vtop` shows).
  Result<PageWalk> Translate(uint64_t va) const;
  // Virtual to physical, with the fast path for the kernel image.
  Result<PhysAddr> ToPhys(uint64_t va) const;
  Result<void> Read(uint64_t va, std::span<std::byte> out) const override;

 private:
  KernelMemory(const PhysicalMemory& mem, bool five_level, uint64_t sme_mask)
      : mem_(mem), paging_(mem, five_level, sme_mask) {}

  const PhysicalMemory& mem_;
  X86_64Paging paging_;
  uint64_t phys_base_ = 0;
  uint64_t kaslr_offset_ = 0;
  PhysAddr pgd_;
};

// A task's user address space: its mm's page tables (mm->pgd's physical address) over the
// dump's physical memory. A page that is not present (never touched, in swap, or left out of
// the dump by its level) is an error naming the address and the table level.
//
//   UserMemory um(kmem->paging(), kmem->physical(), PhysAddr{pgd_phys});
//   CORONER_TRY(std::string arg0, um.ReadCString(mm_arg_start, 4096));
class UserMemory final : public VirtualMemory {
 public:
  UserMemory(const X86_64Paging& paging, const PhysicalMemory& mem, PhysAddr pgd)
      : paging_(paging), mem_(mem), pgd_(pgd) {}
  PhysAddr pgd() const { return pgd_; }
  Result<void> Read(uint64_t va, std::span<std::byte> out) const override;

 private:
  const X86_64Paging& paging_;
  const PhysicalMemory& mem_;
  PhysAddr pgd_;
};

}  // namespace coroner
