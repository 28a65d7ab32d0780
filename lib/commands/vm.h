// `vm [PID|TASK]...`: a task's address space as crash prints it (MM PGD RSS TOTAL_VM, then VMA
// START END FLAGS FILE for every mapping). The VMAs come from the maple tree mm->mm_mt on 6.1+
// and from the mm->mmap list before; the FILE column is the mapped file's path.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

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
};

struct TaskVm {
  TaskInfo task;
  uint64_t mm = 0;
  uint64_t pgd = 0;
  std::vector<VmArea> vmas;
};

struct VmResult {
  uint64_t page_size = 4096;
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
  bool mapped = false;   // a present page
  uint64_t pgd_phys = 0;
  PageWalk walk;
  std::optional<VmArea> vma;
  // Swap: type (swap_info index) and offset from a non-present, non-zero PTE.
  bool swapped = false;
  uint64_t swap_type = 0, swap_offset = 0;
  std::string swap_device;
};

Result<std::vector<UserVtopResult>> RunUserVtop(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
