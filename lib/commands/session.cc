#include "lib/commands/session.h"

#include <fmt/format.h>

namespace coroner {

Result<std::unique_ptr<Session>> Session::Open(const std::vector<std::string>& dump_files) {
  CORONER_TRY(auto dump, OpenDump(dump_files));
  auto s = std::unique_ptr<Session>(new Session());
  s->dump_ = std::move(dump);
  if (!s->dump_->info.vmcoreinfo) {
    s->kmem_error_ = "the dump has no VMCOREINFO, so kernel addresses cannot be translated";
  } else if (s->dump_->info.machine != "x86_64") {
    s->kmem_error_ = fmt::format("kernel address translation for {} is not supported yet", s->dump_->info.machine);
  } else {
    auto km = KernelMemory::Create(*s->dump_->memory, *s->dump_->info.vmcoreinfo);
    if (km) {
      s->kmem_ = std::move(*km);
    } else {
      s->kmem_error_ = km.error().ToString();
    }
  }
  return s;
}

Result<const KernelMemory*> Session::RequireKernelMemory() const {
  if (!kmem_) return Error(ErrorCode::kUnsupported, kmem_error_);
  return kmem_.get();
}

Result<uint64_t> Session::PageOffsetBase() const {
  if (page_offset_base_) return *page_offset_base_;
  CORONER_TRY(const KernelMemory* km, RequireKernelMemory());
  // mem_section (SPARSEMEM_EXTREME, every x86_64 distribution kernel) is allocated from the
  // direct map, so its virtual address minus its physical address is the direct map's base,
  // to the 1 GiB alignment KASLR gives page_offset_base.
  const Vmcoreinfo& vi = *dump_->info.vmcoreinfo;
  if (auto ms = vi.Symbol("mem_section"); ms && *ms < KernelMemory::kStartKernelMap) {
    auto pa = km->ToPhys(*ms);
    if (pa) {
      uint64_t base = *ms - pa->value;
      if ((base & ((1ull << 30) - 1)) == 0) {
        page_offset_base_ = base;
        page_offset_source_ = "mem_section in VMCOREINFO";
        return base;
      }
    }
  }
  return Error(ErrorCode::kNotFound,
               "cannot find the direct map's base (page_offset_base) from VMCOREINFO alone");
}

}  // namespace coroner
