#include "lib/commands/dev.h"

#include <fmt/format.h>

#include <set>

#include "lib/kernel/containers.h"

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


// ---- dev -d ----------------------------------------------------------------------------------

constexpr uint64_t kMqRqInFlight = 1;   // enum mq_rq_state (include/linux/blk-mq.h)
constexpr size_t kMaxDisks = 1 << 16;
constexpr uint64_t kMaxTags = 1 << 20;

// The block class's subsys_private: class.p before 6.4, else the class_kset entry whose class
// is &block_class (drivers/base/class.c class_to_subsys).
Result<uint64_t> BlockSubsysPrivate(const Kernel& k) {
  CORONER_TRY(uint64_t block_class, k.SymbolAddress("block_class"));
  if (k.HasField("class", "p")) {
    CORONER_TRY(uint64_t p, k.ReadField(block_class, "class", "p"));
    if (!p) return Error(ErrorCode::kBadData, "block_class.p is NULL");
    return p;
  }
  CORONER_TRY(uint64_t kset_ptr, k.SymbolAddress("class_kset"));
  CORONER_TRY(uint64_t kset, k.ReadU64(kset_ptr));
  CORONER_TRY(uint64_t head, k.FieldAddress(kset, "kset", "list"));
  CORONER_TRY(std::vector<uint64_t> kobjs, k.ListEntries(head, "kobject", "entry", 4096));
  CORONER_TRY(Field kobj, k.FieldOf("subsys_private", "subsys.kobj"));
  for (uint64_t ko : kobjs) {
    uint64_t sp = ko - kobj.offset;
    CORONER_TRY(uint64_t cls, k.ReadField(sp, "subsys_private", "class"));
    if (cls == block_class) return sp;
  }
  return Error(ErrorCode::kNotFound, "no subsys_private of block_class on class_kset");
}

// The gendisks of the block class, in its device list's order (as crash walks them).
Result<std::vector<uint64_t>> BlockClassDisks(const Kernel& k) {
  CORONER_TRY(uint64_t sp, BlockSubsysPrivate(k));
  CORONER_TRY(uint64_t head, k.FieldAddress(sp, "subsys_private", "klist_devices.k_list"));
  CORONER_TRY(std::vector<uint64_t> nodes, k.ListEntries(head, "klist_node", "n_node", kMaxDisks));
  CORONER_TRY(uint64_t disk_type, k.SymbolAddress("disk_type"));
  CORONER_TRY(Field knode, k.FieldOf("device_private", "knode_class"));
  // Up to 5.10 the disk's device is gendisk.part0 (a struct hd_struct).__dev; from 5.11
  // part0 is a block_device and the device its bd_device.
  const bool hd_struct = k.HasField("hd_struct", "__dev");
  std::vector<uint64_t> out;
  for (uint64_t node : nodes) {
    CORONER_TRY(uint64_t n_klist, k.ReadField(node, "klist_node", "n_klist"));
    if (n_klist & 1) continue;  // KNODE_DEAD
    CORONER_TRY(uint64_t dev, k.ReadField(node - knode.offset, "device_private", "device"));
    if (!dev) continue;
    CORONER_TRY(uint64_t type, k.ReadField(dev, "device", "type"));
    if (type != disk_type) continue;
    if (hd_struct) {
      CORONER_TRY(Field d, k.FieldOf("hd_struct", "__dev"));
      CORONER_TRY(Field part0, k.FieldOf("gendisk", "part0"));
      out.push_back(dev - d.offset - part0.offset);
    } else {
      CORONER_TRY(Field bd, k.FieldOf("block_device", "bd_device"));
      CORONER_TRY(uint64_t disk, k.ReadField(dev - bd.offset, "block_device", "bd_disk"));
      if (disk) out.push_back(disk);
    }
  }
  return out;
}

// The set bits of a struct sbitmap (lib/sbitmap.c): per word, word & ~cleared over the word's
// depth (sbitmap_word.depth before 5.13, else 1 << shift, the last word what is left).
Result<std::vector<uint64_t>> SbitmapSetBits(const Kernel& k, uint64_t sb, uint64_t& total_depth) {
  CORONER_TRY(uint64_t depth, k.ReadField(sb, "sbitmap", "depth"));
  CORONER_TRY(uint64_t shift, k.ReadField(sb, "sbitmap", "shift"));
  CORONER_TRY(uint64_t map_nr, k.ReadField(sb, "sbitmap", "map_nr"));
  CORONER_TRY(uint64_t map, k.ReadField(sb, "sbitmap", "map"));
  if (depth > kMaxTags || shift > 6 || map_nr > kMaxTags) {
    return Error(ErrorCode::kBadData, fmt::format("sbitmap {:#x}: depth {}, shift {}, map_nr {} are implausible", sb,
                                                  depth, shift, map_nr));
  }
  total_depth += depth;
  CORONER_TRY(uint64_t word_size, k.SizeOf("sbitmap_word"));
  const bool word_depth = k.HasField("sbitmap_word", "depth");
  const bool has_cleared = k.HasField("sbitmap_word", "cleared");
  std::vector<uint64_t> bits;
  for (uint64_t i = 0; i < map_nr; ++i) {
    uint64_t w = map + i * word_size;
    uint64_t bits_here = 0;
    if (word_depth) {
      CORONER_TRY(bits_here, k.ReadField(w, "sbitmap_word", "depth"));
    } else {
      bits_here = i + 1 < map_nr ? uint64_t{1} << shift : depth - (i << shift);
    }
    CORONER_TRY(uint64_t word, k.ReadField(w, "sbitmap_word", "word"));
    uint64_t cleared = 0;
    if (has_cleared) {
      CORONER_TRY(cleared, k.ReadField(w, "sbitmap_word", "cleared"));
    }
    word &= ~cleared;
    for (uint64_t b = 0; b < std::min<uint64_t>(bits_here, 64); ++b) {
      if (word >> b & 1) bits.push_back((i << shift) + b);
    }
  }
  return bits;
}

// The in-flight requests of queue `q` among the busy tags of `tags` (block/blk-mq-tag.c
// bt_for_each / bt_iter: rqs[tag] belongs to q, to hctx when one is given, and is in flight).
Result<void> CountBusyTags(const Kernel& k, uint64_t q, uint64_t hctx, uint64_t tags, DiskIo& io) {
  CORONER_TRY(uint64_t nr_reserved, k.ReadField(tags, "blk_mq_tags", "nr_reserved_tags"));
  CORONER_TRY(uint64_t rqs, k.ReadField(tags, "blk_mq_tags", "rqs"));
  CORONER_TRY(Field bitmap, k.FieldOf("blk_mq_tags", "bitmap_tags"));
  // 5.10-5.15: bitmap_tags/breserved_tags point to sbitmap_queues; 5.16+ embed them.
  const bool pointers = k.types().Get(k.types().Resolve(bitmap.type)).kind == TypeKind::kPointer;
  CORONER_TRY(Field sb, k.FieldOf("sbitmap_queue", "sb"));
  for (bool reserved : {true, false}) {
    if (reserved && !nr_reserved) continue;
    const char* member = reserved ? "breserved_tags" : "bitmap_tags";
    CORONER_TRY(uint64_t sbq, k.FieldAddress(tags, "blk_mq_tags", member));
    if (pointers) {
      CORONER_TRY(sbq, k.ReadU64(sbq));
      if (!sbq) continue;
    }
    CORONER_TRY(std::vector<uint64_t> bits, SbitmapSetBits(k, sbq + sb.offset, io.tag_depth));
    io.busy_tags += bits.size();
    for (uint64_t bit : bits) {
      uint64_t tag = reserved ? bit : bit + nr_reserved;
      CORONER_TRY(uint64_t rq, k.ReadU64(rqs + 8 * tag));
      if (!rq || !IsKernelAddress(rq)) continue;
      CORONER_TRY(uint64_t rq_q, k.ReadField(rq, "request", "q"));
      CORONER_TRY(uint64_t state, k.ReadField(rq, "request", "state"));
      if (rq_q != q || state != kMqRqInFlight) continue;
      if (hctx) {
        CORONER_TRY(uint64_t rq_hctx, k.ReadField(rq, "request", "mq_hctx"));
        if (rq_hctx != hctx) continue;
      }
      CORONER_TRY(uint64_t cmd_flags, k.ReadField(rq, "request", "cmd_flags"));
      ++((cmd_flags & 0xff) & 1 ? io.write : io.read);  // op_is_write(): REQ_OP_* odd for writes
    }
  }
  return Ok();
}

// A blk-mq queue's hardware contexts: q->hctx_table (an XArray, 5.19-6.x) or
// q->queue_hw_ctx[nr_hw_queues].
Result<std::vector<uint64_t>> HardwareContexts(const Kernel& k, uint64_t q) {
  std::vector<uint64_t> out;
  if (k.HasField("request_queue", "hctx_table")) {
    CORONER_TRY(uint64_t xa, k.FieldAddress(q, "request_queue", "hctx_table"));
    CORONER_TRY(auto entries, XArrayEntries(k, xa, 4096));
    for (const auto& [index, hctx] : entries) out.push_back(hctx);
    return out;
  }
  CORONER_TRY(uint64_t nr, k.ReadField(q, "request_queue", "nr_hw_queues"));
  CORONER_TRY(uint64_t array, k.ReadField(q, "request_queue", "queue_hw_ctx"));
  if (nr > 4096) return Error(ErrorCode::kBadData, fmt::format("request_queue {:#x}: nr_hw_queues {}", q, nr));
  for (uint64_t i = 0; array && i < nr; ++i) {
    CORONER_TRY(uint64_t hctx, k.ReadU64(array + 8 * i));
    if (hctx) out.push_back(hctx);
  }
  return out;
}

Result<void> CountMq(const Kernel& k, uint64_t q, DiskIo& io) {
  if (!k.HasField("request", "state")) {
    // Before 4.18's request.state crash used the per-CPU blk_mq_ctx.rq_dispatched/rq_completed.
    CORONER_TRY(Field dispatched, k.FieldOf("blk_mq_ctx", "rq_dispatched"));
    CORONER_TRY(Field completed, k.FieldOf("blk_mq_ctx", "rq_completed"));
    io.method = "blk_mq_ctx.rq_dispatched - rq_completed";
    CORONER_TRY(uint64_t ctx, k.ReadField(q, "request_queue", "queue_ctx"));
    CORONER_TRY(int cpus, k.PossibleCpus());
    for (int cpu = 0; cpu < cpus; ++cpu) {
      CORONER_TRY(uint64_t off, k.PerCpuOffset(cpu));
      uint64_t c = ctx + off;
      CORONER_TRY(uint64_t d0, k.ReadU64(c + dispatched.offset));
      CORONER_TRY(uint64_t d1, k.ReadU64(c + dispatched.offset + 8));
      CORONER_TRY(uint64_t c0, k.ReadU64(c + completed.offset));
      CORONER_TRY(uint64_t c1, k.ReadU64(c + completed.offset + 8));
      io.read += d0 - c0;
      io.write += d1 - c1;
    }
    return Ok();
  }
  io.method = "blk-mq tags (sbitmap)";
  CORONER_TRY(uint64_t set, k.ReadField(q, "request_queue", "tag_set"));
  if (set && k.HasField("blk_mq_tag_set", "shared_tags")) {
    auto shared_flag = k.EnumValue("BLK_MQ_F_TAG_HCTX_SHARED");
    CORONER_TRY(uint64_t flags, k.ReadField(set, "blk_mq_tag_set", "flags"));
    if (shared_flag && (flags & static_cast<uint64_t>(*shared_flag))) {
      io.method = "blk-mq shared tags (sbitmap)";
      CORONER_TRY(uint64_t tags, k.ReadField(set, "blk_mq_tag_set", "shared_tags"));
      if (tags) return CountBusyTags(k, q, 0, tags, io);
      return Ok();
    }
  }
  CORONER_TRY(std::vector<uint64_t> hctxs, HardwareContexts(k, q));
  io.hw_queues = hctxs.size();
  for (uint64_t hctx : hctxs) {
    CORONER_TRY(uint64_t tags, k.ReadField(hctx, "blk_mq_hw_ctx", "tags"));
    if (tags) CORONER_TRY_VOID(CountBusyTags(k, q, hctx, tags, io));
  }
  return Ok();
}

// A bio-based (or pre-blk-mq) queue: request_list.count[2] before 5.0, else part0's per-CPU
// disk_stats.in_flight[2] (hd_struct.dkstats up to 5.10, block_device.bd_stats after).
Result<void> CountSingleQueue(const Kernel& k, uint64_t q, uint64_t disk, DiskIo& io) {
  auto rl = k.FirstField("request_queue", {"rq", "root_rl"});
  if (rl) {
    io.method = fmt::format("request_queue.{}.count", *rl);
    CORONER_TRY(uint64_t count, k.FieldAddress(q, "request_queue", fmt::format("{}.count", *rl)));
    CORONER_TRY(uint32_t r, k.ReadU32(count));
    CORONER_TRY(uint32_t w, k.ReadU32(count + 4));
    io.read = r;
    io.write = w;
    return Ok();
  }
  uint64_t stats = 0;
  if (k.HasField("hd_struct", "dkstats")) {
    CORONER_TRY(stats, k.ReadField(disk, "gendisk", "part0.dkstats"));
    io.method = "gendisk.part0.dkstats in_flight (per CPU)";
  } else {
    CORONER_TRY(uint64_t part0, k.ReadField(disk, "gendisk", "part0"));
    CORONER_TRY(stats, k.ReadField(part0, "block_device", "bd_stats"));
    io.method = "block_device.bd_stats in_flight (per CPU)";
  }
  CORONER_TRY(Field in_flight, k.FieldOf("disk_stats", "in_flight"));
  CORONER_TRY(int cpus, k.PossibleCpus());
  for (int cpu = 0; stats && cpu < cpus; ++cpu) {
    CORONER_TRY(uint64_t off, k.PerCpuOffset(cpu));
    CORONER_TRY(uint64_t r, k.ReadU64(stats + off + in_flight.offset));
    CORONER_TRY(uint64_t w, k.ReadU64(stats + off + in_flight.offset + 8));
    io.read += r;
    io.write += w;
  }
  return Ok();
}

Result<void> ReadDiskIo(const Kernel& k, DevResult& r) {
  r.sync_columns = k.EnumValue("BLK_RW_SYNC").has_value();
  r.drv_column = k.HasField("request_queue", "in_flight");
  CORONER_TRY(std::vector<uint64_t> disks, BlockClassDisks(k));
  for (uint64_t disk : disks) {
    DiskIo io;
    io.gendisk = disk;
    CORONER_TRY(io.name, k.ReadCharArray(disk, "gendisk", "disk_name"));
    if (io.name.starts_with("ram") || io.name.starts_with("loop")) continue;  // as crash
    CORONER_TRY(int64_t major, k.ReadSignedField(disk, "gendisk", "major"));
    io.major = static_cast<int>(major);
    CORONER_TRY(io.request_queue, k.ReadField(disk, "gendisk", "queue"));
    if (k.HasField("request_queue", "mq_ops")) {
      CORONER_TRY(uint64_t ops, k.ReadField(io.request_queue, "request_queue", "mq_ops"));
      io.mq = ops != 0;
    }
    auto counted = io.mq ? CountMq(k, io.request_queue, io) : CountSingleQueue(k, io.request_queue, disk, io);
    if (!counted) return std::move(counted).error().WithContext(fmt::format("in-flight requests of {}", io.name));
    if (r.drv_column && !io.mq) {
      CORONER_TRY(Field f, k.FieldOf("request_queue", "in_flight"));
      CORONER_TRY(uint32_t a, k.ReadU32(io.request_queue + f.offset));
      uint64_t total = a;
      if (f.size >= 8) {
        CORONER_TRY(uint32_t b, k.ReadU32(io.request_queue + f.offset + 4));
        total += b;
      }
      io.driver_in_flight = total;
    }
    if (r.nonzero_only && io.read + io.write == 0) continue;
    r.disks.push_back(std::move(io));
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
  if (args.size() == 1 && (args[0] == "-d" || args[0] == "-D")) {
    r.diskio = true;
    r.nonzero_only = args[0] == "-D";
    CORONER_TRY_VOID(ReadDiskIo(*k, r));
    return r;
  }
  if (args.size() != 1 || args[0] != "-i") {
    return Error(ErrorCode::kUnsupported, "dev: dev (character and block devices), dev -i, dev -d and dev -D are supported");
  }
  r.resources = true;
  for (std::string_view root : {"ioport_resource", "iomem_resource"}) {
    CORONER_TRY(ResourceTree t, ReadResources(*k, root));
    r.trees.push_back(std::move(t));
  }
  return r;
}

}  // namespace coroner
