// `dev`: the character devices (chrdevs[], each with its cdev from the entry or from cdev_map's
// probes, and the cdev's file operations) and block devices (major_names[], each with a gendisk
// of that major found through the block-device inodes, and its operations), as crash lists
// them.
// `dev -i`: the kernel's I/O port and I/O memory resource trees (ioport_resource,
// iomem_resource), every resource in tree order, as crash prints them and as /proc/ioports and
// /proc/iomem show them (those indent by depth; crash and coroner give the resource's address).
#pragma once

#include <cstdint>
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

struct DevResult {
  bool resources = false;           // dev -i
  std::vector<ResourceTree> trees;  // dev -i
  std::vector<CharDev> chrdevs;
  std::vector<BlockDev> blkdevs;
};

Result<DevResult> RunDev(const Session& s, const std::vector<std::string>& args);

}  // namespace coroner
