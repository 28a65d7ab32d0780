#include "lib/commands/vm.h"

#include <fmt/format.h>

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

Result<VmResult> RunVm(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(std::vector<const TaskInfo*> tasks, SelectTasks(s, args));
  CORONER_TRY(const Kernel* k, s.GetKernel());
  VmResult r;
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
        tv.vmas.push_back(std::move(a));
      }
    }
    r.tasks.push_back(std::move(tv));
  }
  return r;
}

}  // namespace coroner
