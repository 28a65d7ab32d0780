// `dev`: the character devices (chrdevs[], each with its cdev from the entry or from cdev_map's
// probes, and the cdev's file operations) and block devices (major_names[], each with a gendisk
// of that major found through the block-device inodes, and its operations), as crash lists
// them.
// `dev -i`: the kernel's I/O port and I/O memory resource trees (ioport_resource,
// iomem_resource), every resource in tree order, as crash prints them and as /proc/ioports and
// /proc/iomem show them (those indent by depth; crash and coroner give the resource's address).
// `dev -d` / `dev -D`: each disk's in-flight requests (reads and writes), as crash counts them:
// for a blk-mq queue, the requests in MQ_RQ_IN_FLIGHT state found through the busy bits of its
// hardware queues' tag sbitmaps (or set->shared_tags); for a bio-based queue, the per-CPU
// disk_stats.in_flight of part0; on pre-5.0 kernels request_list.count. Disks come from the
// block class's klist of devices (type == &disk_type), ram and loop disks skipped; -D omits
// idle disks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/commands/session.h"

namespace coroner {

struct Resource {
  uint64_t address = 0;  // struct resource
  uint64_t start = 0, end = 0;
  std::string name;
  int depth = 0;         // 0 for the root (ioport_resource / iomem_resource)
};

struct ResourceTree {
  std::string root;       // "ioport_resource" or "iomem_resource"
  unsigned digits = 4;    // crash's range width: 4 hex digits, or 8 when the root ends above 0xffff
  std::vector<Resource> resources;
};

struct CharDev {
  int major = 0;
  std::string name;
  uint64_t cdev = 0, ops = 0;
  std::string ops_symbol;
};

struct BlockDev {
  int major = 0;
  std::string name;
  uint64_t gendisk = 0, ops = 0;
  std::string ops_symbol;
};

struct DiskIo {
  int major = 0;
  uint64_t gendisk = 0;
  std::string name;
  uint64_t request_queue = 0;
  bool mq = false;                // request_queue.mq_ops set
  std::string method;             // how the requests were counted
  uint64_t read = 0, write = 0;   // in flight
  uint64_t hw_queues = 0;         // blk-mq: hardware contexts walked (0 with shared tags)
  uint64_t tag_depth = 0;         // blk-mq: the tag sbitmaps' depth, summed
  uint64_t busy_tags = 0;         // blk-mq: tags set in them (the requests checked)
  std::optional<uint64_t> driver_in_flight;  // request_queue.in_flight (pre-blk-mq kernels)
};

struct DevResult {
  bool diskio = false;              // dev -d / -D
  bool nonzero_only = false;        // dev -D
  bool sync_columns = false;        // enum BLK_RW_SYNC exists: crash heads ASYNC/SYNC, not READ/WRITE
  bool drv_column = false;          // request_queue.in_flight exists
  std::vector<DiskIo> disks;
  bool resources = false;           // dev -i
  std::vector<ResourceTree> trees;  // dev -i
  std::vector<CharDev> chrdevs;
  std::vector<BlockDev> blkdevs;
};

Result<DevResult> RunDev(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
