#include "lib/commands/dev.h"

#include <fmt/format.h>

#include <set>

namespace coroner {
namespace {

constexpr size_t kMaxResources = 1 << 16;

// The resource tree from `root`: the root, then depth-first each child before its siblings.
Result<ResourceTree> ReadResources(const Kernel& k, std::string_view root_symbol) {
  ResourceTree t;
  t.root = std::string(root_symbol);
  CORONER_TRY(uint64_t root, k.SymbolAddress(root_symbol));
  CORONER_TRY(uint64_t root_end, k.ReadField(root, "resource", "end"));
  t.digits = root_end > 0xffff ? 8 : 4;
  std::set<uint64_t> seen;
  // Explicit stack of (resource, depth); siblings are pushed as each is visited.
  std::vector<std::pair<uint64_t, int>> stack{{root, 0}};
  while (!stack.empty()) {
    auto [r, depth] = stack.back();
    stack.pop_back();
    if (!seen.insert(r).second) {
      return Error(ErrorCode::kBadData, fmt::format("{}: resource {:#x} is reached twice", root_symbol, r));
    }
    if (seen.size() > kMaxResources) return Error(ErrorCode::kRecursion, fmt::format("{}: too many resources", root_symbol));
    Resource res;
    res.address = r;
    res.depth = depth;
    CORONER_TRY(res.start, k.ReadField(r, "resource", "start"));
    CORONER_TRY(res.end, k.ReadField(r, "resource", "end"));
    CORONER_TRY(uint64_t name, k.ReadField(r, "resource", "name"));
    res.name = name ? k.memory().ReadCString(name, 256).value_or("(unknown)") : "(unknown)";
    CORONER_TRY(uint64_t child, k.ReadField(r, "resource", "child"));
    CORONER_TRY(uint64_t sibling, k.ReadField(r, "resource", "sibling"));
    // The root's siblings are not part of its tree.
    if (sibling && depth > 0) stack.emplace_back(sibling, depth);
    if (child && child != r) stack.emplace_back(child, depth + 1);
    t.resources.push_back(std::move(res));
  }
  return t;
}

constexpr uint64_t kMajorHash = 255;  // CHRDEV_MAJOR_HASH_SIZE, BLKDEV_MAJOR_HASH_SIZE

std::string SymbolName(const SymbolTable& syms, uint64_t a) {
  auto m = syms.LookupAddress(a);
  if (!m || m->symbol->percpu) return "";
  return m->offset ? fmt::format("{}+{}", m->symbol->name, m->offset) : std::string(m->symbol->name);
}

// cdev_map->probes[major]: the cdev registered for (major, minor), as crash looks it up.
uint64_t CdevFromMap(const Kernel& k, int major, int minor) {
  auto map_sym = k.SymbolAddress("cdev_map");
  if (!map_sym || major < 0 || static_cast<uint64_t>(major) >= kMajorHash) return 0;
  auto map = k.ReadU64(*map_sym);
  auto probes = k.FieldOf("kobj_map", "probes");
  if (!map || !*map || !probes) return 0;
  auto next = k.ReadU64(*map + probes->offset + 8 * static_cast<uint64_t>(major));
  for (size_t n = 0; next && *next && n < kMaxResources; ++n) {
    auto dev = k.ReadField(*next, "probe", "dev");
    if (!dev) return 0;
    if ((*dev >> 20) == static_cast<uint64_t>(major) && (*dev & 0xfffff) == static_cast<uint64_t>(minor)) {
      return k.ReadField(*next, "probe", "data").value_or(0);
    }
    next = k.ReadField(*next, "probe", "next");
  }
  return 0;
}

Result<void> ReadCharDevs(const Kernel& k, const SymbolTable& syms, DevResult& r) {
  CORONER_TRY(uint64_t chrdevs, k.SymbolAddress("chrdevs"));
  for (uint64_t i = 0; i < kMajorHash; ++i) {
    CORONER_TRY(uint64_t cd, k.ReadU64(chrdevs + 8 * i));
    for (size_t n = 0; cd && n < kMaxResources; ++n) {
      CharDev c;
      CORONER_TRY(uint64_t major, k.ReadField(cd, "char_device_struct", "major"));
      CORONER_TRY(uint64_t minor, k.ReadField(cd, "char_device_struct", "baseminor"));
      c.major = static_cast<int>(major);
      CORONER_TRY(c.name, k.ReadCharArray(cd, "char_device_struct", "name"));
      CORONER_TRY(c.cdev, k.ReadField(cd, "char_device_struct", "cdev"));
      if (c.cdev) {
        CORONER_TRY(c.ops, k.ReadField(c.cdev, "cdev", "ops"));
      }
      if (!c.ops) {
        c.cdev = CdevFromMap(k, c.major, static_cast<int>(minor));
        if (c.cdev) c.ops = k.ReadField(c.cdev, "cdev", "ops").value_or(0);
        if (!c.ops) c.cdev = 0;
      }
      if (c.ops) c.ops_symbol = SymbolName(syms, c.ops);
      r.chrdevs.push_back(std::move(c));
      CORONER_TRY(cd, k.ReadField(cd, "char_device_struct", "next"));
    }
  }
  return Ok();
}

// Each major's first gendisk, through the block-device inodes (bdev_inode: bdev + vfs_inode).
Result<std::vector<std::pair<int, uint64_t>>> Gendisks(const Kernel& k) {
  std::vector<std::pair<int, uint64_t>> out;
  CORONER_TRY(uint64_t sbp, k.SymbolAddress("blockdev_superblock"));
  CORONER_TRY(uint64_t sb, k.ReadU64(sbp));
  CORONER_TRY(uint64_t head, k.FieldAddress(sb, "super_block", "s_inodes"));
  CORONER_TRY(auto inodes, k.ListEntries(head, "inode", "i_sb_list"));
  CORONER_TRY(Field vfs, k.FieldOf("bdev_inode", "vfs_inode"));
  CORONER_TRY(Field bdev, k.FieldOf("bdev_inode", "bdev"));
  for (uint64_t inode : inodes) {
    uint64_t b = inode - vfs.offset + bdev.offset;
    CORONER_TRY(uint64_t disk, k.ReadField(b, "block_device", "bd_disk"));
    if (!disk) continue;
    CORONER_TRY(uint64_t major, k.ReadField(disk, "gendisk", "major"));
    out.emplace_back(static_cast<int>(major), disk);
  }
  return out;
}

Result<void> ReadBlockDevs(const Kernel& k, const SymbolTable& syms, DevResult& r) {
  CORONER_TRY(uint64_t names, k.SymbolAddress("major_names"));
  auto disks = Gendisks(k);
  for (uint64_t i = 0; i < kMajorHash; ++i) {
    CORONER_TRY(uint64_t bm, k.ReadU64(names + 8 * i));
    for (size_t n = 0; bm && n < kMaxResources; ++n) {
      BlockDev b;
      CORONER_TRY(uint64_t major, k.ReadField(bm, "blk_major_name", "major"));
      b.major = static_cast<int>(major);
      CORONER_TRY(b.name, k.ReadCharArray(bm, "blk_major_name", "name"));
      if (disks) {
        for (const auto& [m, disk] : *disks) {
          if (m != b.major) continue;
          b.gendisk = disk;
          CORONER_TRY(b.ops, k.ReadField(disk, "gendisk", "fops"));
          b.ops_symbol = SymbolName(syms, b.ops);
          break;
        }
      }
      r.blkdevs.push_back(std::move(b));
      CORONER_TRY(bm, k.ReadField(bm, "blk_major_name", "next"));
    }
  }
  return Ok();
}

}  // namespace

Result<DevResult> RunDev(const Session& s, const std::vector<std::string>& args) {
  CORONER_TRY(const Kernel* k, s.GetKernel());
  DevResult r;
  if (args.empty()) {
    CORONER_TRY(const SymbolTable* syms, s.AllSymbols());
    CORONER_TRY_VOID(ReadCharDevs(*k, *syms, r));
    CORONER_TRY_VOID(ReadBlockDevs(*k, *syms, r));
    return r;
  }
  if (args.size() != 1 || args[0] != "-i") {
    return Error(ErrorCode::kUnsupported, "dev: dev (character and block devices) and dev -i are supported");
  }
  r.resources = true;
  for (std::string_view root : {"ioport_resource", "iomem_resource"}) {
    CORONER_TRY(ResourceTree t, ReadResources(*k, root));
    r.trees.push_back(std::move(t));
  }
  return r;
}

}  // namespace coroner
