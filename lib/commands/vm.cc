#include "lib/commands/vm.h"

#include <fmt/format.h>

#include <map>
#include <string_view>
#include <unordered_set>

#include "lib/commands/fs_commands.h"
#include "lib/kernel/containers.h"
#include "lib/kernel/fs.h"

namespace coroner {

Result<std::vector<uint64_t>> ReadVmas(const Kernel& k, uint64_t mm) {
  std::vector<uint64_t> out;
  if (k.HasField("mm_struct", "mm_mt")) {
    CORONER_TRY(uint64_t tree, k.FieldAddress(mm, "mm_struct", "mm_mt"));
    auto entries = MapleTreeEntries(k, tree);
    if (!entries) return std::move(entries).error().WithContext(fmt::format("mm {:#x}: mm_mt", mm));
    for (const MapleEntry& e : *entries) out.push_back(e.entry);
    return out;
  }
  if (!k.HasField("mm_struct", "mmap") || !k.HasField("vm_area_struct", "vm_next")) {
    return Error(ErrorCode::kUnsupported,
                 "struct mm_struct has neither mm_mt (6.1+) nor mmap with vm_area_struct.vm_next: cannot find the VMAs");
  }
  CORONER_TRY(uint64_t vma, k.ReadField(mm, "mm_struct", "mmap"));
  std::unordered_set<uint64_t> seen;
  while (vma) {
    if (!IsKernelAddress(vma) || !seen.insert(vma).second || seen.size() > (1u << 20)) {
      return Error(ErrorCode::kBadData, fmt::format("mm {:#x}: mmap list: bad or repeated VMA {:#x}", mm, vma));
    }
    out.push_back(vma);
    CORONER_TRY(vma, k.ReadField(vma, "vm_area_struct", "vm_next"));
  }
  return out;
}

namespace {

// A special mapping's name ("[vdso]", "[vvar]"): vm_ops is special_mapping_vmops and
// vm_private_data a struct vm_special_mapping (mm/mmap.c, mm/vma.c).
Result<std::string> SpecialMappingName(const Kernel& k, uint64_t vma) {
  CORONER_TRY(uint64_t ops, k.ReadField(vma, "vm_area_struct", "vm_ops"));
  if (!ops) return std::string();
  auto special = k.SymbolAddress("special_mapping_vmops");
  if (!special || *special != ops) return std::string();
  CORONER_TRY(uint64_t sm, k.ReadField(vma, "vm_area_struct", "vm_private_data"));
  if (!sm) return std::string();
  CORONER_TRY(uint64_t name, k.ReadField(sm, "vm_special_mapping", "name"));
  if (!name) return std::string();
  return k.memory().ReadCString(name, 64);
}

}  // namespace

namespace {

// swap_info[type] -> its swap file's path, looked up once per type.
using SwapNames = std::map<uint64_t, std::string>;

Result<std::string> SwapDeviceName(const Kernel& k, uint64_t type, SwapNames& cache) {
  if (auto it = cache.find(type); it != cache.end()) return it->second;
  std::string name = fmt::format("(swap type {})", type);
  auto nr = k.SymbolAddress("nr_swapfiles");
  auto info = k.SymbolAddress("swap_info");
  if (nr && info && type < k.ReadU32(*nr).value_or(0)) {
    CORONER_TRY(uint64_t si, k.ReadU64(*info + 8 * type));
    if (si) {
      CORONER_TRY(uint64_t file, k.ReadField(si, "swap_info_struct", "swap_file"));
      if (file) {
        CORONER_TRY(FileInfo fi, ReadFileInfo(k, file));
        name = fi.path.path;
      }
    }
  }
  cache[type] = name;
  return name;
}

Result<UserPage> TranslateUserPage(const Kernel& k, const KernelMemory& km, uint64_t pgd_phys, uint64_t va,
                                   SwapNames& swap_names) {
  UserPage p;
  p.va = va;
  CORONER_TRY(p.walk, km.paging().WalkToEntry(PhysAddr{pgd_phys}, va));
  p.mapped = p.walk.present;
  p.pa = p.walk.pa.value;
  uint64_t leaf = p.walk.steps.empty() ? 0 : p.walk.steps.back().entry;
  bool at_pte = !p.walk.steps.empty() && std::string_view(p.walk.steps.back().level) == "PTE";
  constexpr uint64_t kProtNone = 0x100;  // _PAGE_PROTNONE (the GLOBAL bit of a user PTE)
  if (!p.mapped && at_pte && (leaf & kProtNone)) {
    p.mapped = true;  // a PROT_NONE page is resident, as crash counts it
    p.walk.page_size = 4096;
    p.walk.pa = PhysAddr{(leaf & X86_64Paging::kAddrMask) | (va & 0xfff)};
    p.pa = p.walk.pa.value;
  }
  if (!p.mapped && at_pte && leaf) {
    X86_64Paging::SwapEntry e = X86_64Paging::DecodeSwapPte(leaf);
    p.swapped = true;
    p.swap_type = e.type;
    p.swap_offset = e.offset;
    CORONER_TRY(p.swap_device, SwapDeviceName(k, e.type, swap_names));
  }
  return p;
}

}  // namespace

Result<VmResult> RunVm(const Session& s, const std::vector<std::string>& args) {
  VmResult r;
  std::vector<std::string> selectors;
  for (const std::string& a : args) {
    if (a == "-p") {
      r.physical = true;
    } else {
      selectors.push_back(a);
    }
  }
  CORONER_TRY(std::vector<const TaskInfo*> tasks, SelectTasks(s, selectors));
  CORONER_TRY(const Kernel* k, s.GetKernel());
  const KernelMemory* km = nullptr;
  uint64_t page_offset = 0;
  SwapNames swap_names;
  if (r.physical) {
    CORONER_TRY(km, s.RequireKernelMemory());
    CORONER_TRY(page_offset, s.PageOffsetBase());
  }
  CORONER_TRY(std::string_view flags_member, k->FirstField("vm_area_struct", {"vm_flags", "__vm_flags"}));
  for (const TaskInfo* t : tasks) {
    TaskVm tv;
    tv.task = *t;
    tv.mm = t->mm;
    if (tv.mm) {
      CORONER_TRY(tv.pgd, k->ReadField(tv.mm, "mm_struct", "pgd"));
      CORONER_TRY(uint64_t start_brk, k->ReadField(tv.mm, "mm_struct", "start_brk"));
      CORONER_TRY(uint64_t brk, k->ReadField(tv.mm, "mm_struct", "brk"));
      CORONER_TRY(uint64_t start_stack, k->ReadField(tv.mm, "mm_struct", "start_stack"));
      CORONER_TRY(std::vector<uint64_t> vmas, ReadVmas(*k, tv.mm));
      for (uint64_t v : vmas) {
        VmArea a;
        a.vma = v;
        CORONER_TRY(a.start, k->ReadField(v, "vm_area_struct", "vm_start"));
        CORONER_TRY(a.end, k->ReadField(v, "vm_area_struct", "vm_end"));
        CORONER_TRY(a.flags, k->ReadField(v, "vm_area_struct", flags_member));
        CORONER_TRY(a.pgoff, k->ReadField(v, "vm_area_struct", "vm_pgoff"));
        CORONER_TRY(a.file, k->ReadField(v, "vm_area_struct", "vm_file"));
        if (a.file) {
          auto fi = ReadFileInfo(*k, a.file);
          if (!fi) return std::move(fi).error().WithContext(fmt::format("VMA {:#x} of PID {}", v, t->pid));
          a.path = fi->path.path;
          a.maps_name = fi->proc_link;
        } else if (a.start <= brk && a.end >= start_brk) {
          a.maps_name = "[heap]";  // fs/proc/task_mmu.c show_map_vma
        } else if (a.start <= start_stack && a.end >= start_stack) {
          a.maps_name = "[stack]";
        } else {
          CORONER_TRY(a.maps_name, SpecialMappingName(*k, v));
        }
        if (r.physical) {
          if (a.end < a.start || (a.end - a.start) / 4096 > (1u << 22)) {
            return Error(ErrorCode::kBadData, fmt::format("VMA {:#x}: {:#x}-{:#x} is not a range to walk", v, a.start, a.end));
          }
          for (uint64_t va = a.start; va < a.end; va += 4096) {
            CORONER_TRY(UserPage page, TranslateUserPage(*k, *km, tv.pgd - page_offset, va, swap_names));
            a.pages.push_back(std::move(page));
          }
        }
        tv.vmas.push_back(std::move(a));
      }
    }
    r.tasks.push_back(std::move(tv));
  }
  return r;
}

}  // namespace coroner

namespace coroner {

Result<std::vector<UserVtopResult>> RunUserVtop(const Session& s, const std::vector<std::string>& args) {
  std::vector<std::string> context;
  std::vector<uint64_t> addresses;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-u") continue;
    if (a == "-c") {
      if (i + 1 == args.size()) return Error(ErrorCode::kInvalidArgument, "vtop -c needs a PID or task");
      context.push_back(args[++i]);
      continue;
    }
    if (!a.empty() && a[0] == '-') return Error(ErrorCode::kUnsupported, fmt::format("option {} is not supported yet", a));
    std::string hex = a.rfind("0x", 0) == 0 ? a.substr(2) : a;
    char* end = nullptr;
    uint64_t v = std::strtoull(hex.c_str(), &end, 16);
    if (hex.empty() || !end || *end) return Error(ErrorCode::kInvalidArgument, fmt::format("invalid address: {}", a));
    addresses.push_back(v);
  }
  if (addresses.empty()) return Error(ErrorCode::kInvalidArgument, "an address is required");
  if (context.size() > 1) return Error(ErrorCode::kInvalidArgument, "only one -c context");
  CORONER_TRY(std::vector<const TaskInfo*> tasks, SelectTasks(s, context));
  const TaskInfo* t = tasks.front();
  if (!t->mm) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("PID {} (\"{}\") is a kernel thread: no user address space", t->pid, t->comm));
  }
  CORONER_TRY(const KernelMemory* km, s.RequireKernelMemory());
  CORONER_TRY(uint64_t page_offset, s.PageOffsetBase());
  CORONER_TRY(VmResult vm, RunVm(s, {fmt::format("{:x}", t->task)}));
  CORONER_TRY(const Kernel* k, s.GetKernel());
  const TaskVm& tv = vm.tasks.front();
  SwapNames swap_names;
  std::vector<UserVtopResult> out;
  for (uint64_t va : addresses) {
    UserVtopResult r;
    r.task = *t;
    r.va = va;
    for (const VmArea& a : tv.vmas) {
      if (a.start <= va && va < a.end) r.vma = a;
    }
    r.in_vma = r.vma.has_value();
    if (!r.in_vma) {
      out.push_back(std::move(r));
      continue;
    }
    // mm->pgd is a direct-map address.
    r.pgd_phys = tv.pgd - page_offset;
    CORONER_TRY(r.page, TranslateUserPage(*k, *km, r.pgd_phys, va, swap_names));
    if (r.page.mapped) {
      if (auto pl = PageLineOf(s, r.page.pa)) r.page_line = *pl;
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace coroner
