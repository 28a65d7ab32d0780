#include "lib/memory/kernel_memory.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "lib/base/byte_reader.h"

namespace coroner {

Result<std::unique_ptr<KernelMemory>> KernelMemory::Create(const PhysicalMemory& mem, const Vmcoreinfo& vi) {
  auto top = vi.Symbol("init_top_pgt");
  if (!top) top = vi.Symbol("swapper_pg_dir");
  auto phys_base = vi.Number("phys_base");
  if (!top || !phys_base) {
    return Error(ErrorCode::kNotFound,
                 "VMCOREINFO lacks SYMBOL(init_top_pgt) or NUMBER(phys_base): cannot translate "
                 "kernel addresses without a vmlinux");
  }
  if (*top < kStartKernelMap) {
    return Error(ErrorCode::kBadData, fmt::format("init_top_pgt {:#x} is not a kernel-image address", *top));
  }
  bool five_level = vi.Number("pgtable_l5_enabled").value_or(0) != 0;
  uint64_t sme_mask = static_cast<uint64_t>(vi.Number("sme_mask").value_or(0));
  auto km = std::unique_ptr<KernelMemory>(new KernelMemory(mem, five_level, sme_mask));
  km->phys_base_ = static_cast<uint64_t>(*phys_base);
  km->kaslr_offset_ = vi.kernel_offset.value_or(0);
  km->pgd_ = PhysAddr{*top - kStartKernelMap + km->phys_base_};
  return km;
}

Result<PageWalk> KernelMemory::Translate(uint64_t va) const { return paging_.Walk(pgd_, va); }

Result<PhysAddr> KernelMemory::ToPhys(uint64_t va) const {
  if (va >= kStartKernelMap && va < kKernelImageLimit) {
    return PhysAddr{va - kStartKernelMap + phys_base_};
  }
  CORONER_TRY(PageWalk w, Translate(va));
  return w.pa;
}

Result<void> KernelMemory::Read(uint64_t va, std::span<std::byte> out) const {
  size_t done = 0;
  while (done < out.size()) {
    uint64_t a = va + done;
    size_t n = static_cast<size_t>(std::min<uint64_t>(4096 - (a & 0xfff), out.size() - done));
    auto pa = ToPhys(a);
    if (!pa) return std::move(pa).error();
    auto r = mem_.Read(*pa, out.subspan(done, n));
    if (!r) {
      return std::move(r).error().WithContext(fmt::format("reading virtual address {:#x}", a));
    }
    done += n;
  }
  return Ok();
}

Result<void> UserMemory::Read(uint64_t va, std::span<std::byte> out) const {
  size_t done = 0;
  while (done < out.size()) {
    uint64_t a = va + done;
    size_t n = static_cast<size_t>(std::min<uint64_t>(4096 - (a & 0xfff), out.size() - done));
    if (a >= 0x8000000000000000ull) {
      return Error(ErrorCode::kInvalidArgument, fmt::format("{:#x} is not a user address", a));
    }
    auto walk = paging_.Walk(pgd_, a);
    if (!walk) return std::move(walk).error().WithContext(fmt::format("user address {:#x}", a));
    auto r = mem_.Read(walk->pa, out.subspan(done, n));
    if (!r) return std::move(r).error().WithContext(fmt::format("reading user address {:#x}", a));
    done += n;
  }
  return Ok();
}

Result<uint16_t> VirtualMemory::ReadU16(uint64_t va) const {
  std::array<std::byte, 2> b{};
  CORONER_TRY_VOID(Read(va, b));
  return static_cast<uint16_t>(static_cast<uint16_t>(b[0]) | (static_cast<uint16_t>(b[1]) << 8));
}

Result<uint64_t> VirtualMemory::ReadU64(uint64_t va) const {
  std::array<std::byte, 8> b{};
  CORONER_TRY_VOID(Read(va, b));
  return LoadLE64(b.data());
}

Result<uint32_t> VirtualMemory::ReadU32(uint64_t va) const {
  std::array<std::byte, 4> b{};
  CORONER_TRY_VOID(Read(va, b));
  return LoadLE32(b.data());
}

Result<std::string> VirtualMemory::ReadCString(uint64_t va, size_t max_len) const {
  std::string s;
  std::array<std::byte, 64> b{};
  while (s.size() < max_len) {
    size_t n = std::min<size_t>({b.size(), max_len - s.size(), 4096 - ((va + s.size()) & 0xfff)});
    CORONER_TRY_VOID(Read(va + s.size(), std::span(b).first(n)));
    for (size_t i = 0; i < n; ++i) {
      if (b[i] == std::byte{0}) return s;
      s.push_back(static_cast<char>(b[i]));
    }
  }
  return s;
}

}  // namespace coroner
