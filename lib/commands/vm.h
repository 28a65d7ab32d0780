// `vm [-p] [PID|TASK]...`: a task's address space as crash prints it (MM PGD RSS TOTAL_VM, then
// VMA START END FLAGS FILE for every mapping; -p adds every page's physical address, swap
// location or file offset). The VMAs come from the maple tree mm->mm_mt on 6.1+ and from the
// mm->mmap list before; the FILE column is the mapped file's path. Also `vtop -u`.
//
//   CORONER_TRY(VmResult vm, RunVm(session, {"107"}));
//   for (const VmArea& a : vm.tasks[0].vmas) ... a.start, a.end, a.path ...
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/arch/x86_64_paging.h"
#include "lib/commands/kmem_address.h"
#include "lib/commands/session.h"

namespace coroner {

// One user page as the task's page tables see it.
struct UserPage {
  uint64_t va = 0;
  PageWalk walk;       // up to the leaf entry, or the first non-present one
  bool mapped = false; // present (or PROT_NONE, as crash counts it)
  uint64_t pa = 0;
  bool swapped = false;  // a non-present PTE holding a swap entry
  uint64_t swap_type = 0, swap_offset = 0;
  std::string swap_device;  // swap_info[type]->swap_file's path
};

struct VmArea {
  uint64_t vma = 0;  // struct vm_area_struct
  uint64_t start = 0, end = 0;
  uint64_t flags = 0;  // vm_flags
  uint64_t pgoff = 0;  // vm_pgoff (pages)
  uint64_t file = 0;   // vm_file
  std::string path;    // crash's FILE column ("" for anonymous memory)
  // /proc/PID/maps's name: the file's d_path ("/SYSV434f5201 (deleted)"), "[heap]", "[stack]",
  // or a special mapping's name ("[vdso]", "[vvar]"); "" for other anonymous memory.
  std::string maps_name;
  std::vector<UserPage> pages;  // vm -p only: every page of the VMA
};

struct TaskVm {
  TaskInfo task;
  uint64_t mm = 0;
  uint64_t pgd = 0;
  std::vector<VmArea> vmas;
};

struct VmResult {
  uint64_t page_size = 4096;
  bool physical = false;  // -p
  std::vector<TaskVm> tasks;
};

Result<VmResult> RunVm(const Session& s, const std::vector<std::string>& args);

// The VMAs of an mm, in address order (maple tree on 6.1+, mmap list before).
Result<std::vector<uint64_t>> ReadVmas(const Kernel& k, uint64_t mm);

}  // namespace coroner

namespace coroner {

// `vtop [-c PID|TASK] [-u] ADDRESS...` for user addresses: the walk through the task's
// mm->pgd, the VMA holding the address, and for a page in swap the swap device and offset
// decoded from the PTE (x86_64's inverted swap entry, arch/x86/include/asm/pgtable_64.h).
struct UserVtopResult {
  TaskInfo task;
  uint64_t va = 0;
  bool in_vma = false;   // crash: "(not accessible)" otherwise
  uint64_t pgd_phys = 0;
  std::optional<VmArea> vma;
  UserPage page;
  std::optional<PageLine> page_line;  // the struct page of a resident page
};

Result<std::vector<UserVtopResult>> RunUserVtop(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
