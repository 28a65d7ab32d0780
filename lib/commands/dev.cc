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

}  // namespace

Result<DevResult> RunDev(const Session& s, const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0] != "-i") {
    return Error(ErrorCode::kUnsupported, "dev: only dev -i (I/O ports and memory) is supported yet");
  }
  CORONER_TRY(const Kernel* k, s.GetKernel());
  DevResult r;
  for (std::string_view root : {"ioport_resource", "iomem_resource"}) {
    CORONER_TRY(ResourceTree t, ReadResources(*k, root));
    r.trees.push_back(std::move(t));
  }
  return r;
}

}  // namespace coroner
