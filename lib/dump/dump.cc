#include "lib/dump/dump.h"

#include <array>
#include <cstring>

#include <fmt/format.h>

#include "lib/dump/elf_vmcore.h"
#include "lib/dump/flattened.h"
#include "lib/dump/kdump_compressed.h"

namespace coroner {
namespace {

enum class Kind { kElf, kKdump, kUnknown };

Kind Sniff(std::span<const std::byte> b) {
  if (b.size() >= 4 && std::memcmp(b.data(), "\x7f" "ELF", 4) == 0) return Kind::kElf;
  if (b.size() >= 8 && (std::memcmp(b.data(), "KDUMP   ", 8) == 0 ||
                        std::memcmp(b.data(), "DISKDUMP", 8) == 0)) {
    return Kind::kKdump;
  }
  return Kind::kUnknown;
}

Result<std::array<std::byte, 16>> Head(const ByteSource& src) {
  std::array<std::byte, 16> head{};
  if (src.size() == 0) {
    return Error(ErrorCode::kTruncated, fmt::format("{}: file is empty", src.name()), AtOffset(0));
  }
  if (src.size() < head.size()) {
    return Error(ErrorCode::kTruncated,
                 fmt::format("{}: {} bytes is too short to be a dump", src.name(), src.size()), AtOffset(0));
  }
  CORONER_TRY_VOID(src.ReadExact(0, head));
  return head;
}

}  // namespace

Result<std::unique_ptr<Dump>> OpenDumpSources(std::vector<std::unique_ptr<ByteSource>> sources) {
  if (sources.empty()) return Error(ErrorCode::kInvalidArgument, "no dump file given");
  auto dump = std::make_unique<Dump>();
  bool flattened = false;
  std::vector<Kind> kinds;
  for (auto& src : sources) {
    CORONER_TRY(auto head, Head(*src));
    if (LooksFlattened(head)) {
      CORONER_TRY(auto flat, FlattenedSource::Create(std::move(src), dump->diagnostics));
      if (!flat->complete()) {
        dump->info.incomplete = true;
        dump->info.incomplete_reasons.push_back(
            fmt::format("{}: the flattened stream has no end marker (cut short)", flat->name()));
      }
      src = std::move(flat);
      flattened = true;
      auto inner = Head(*src);
      if (!inner) {
        return Error(ErrorCode::kTruncated,
                     fmt::format("{}: the flattened stream holds no dump header", src->name()), AtOffset(kFlatHeaderSize));
      }
      head = *inner;
    }
    Kind k = Sniff(head);
    if (k == Kind::kUnknown) {
      std::string hex;
      for (int i = 0; i < 8; ++i) hex += fmt::format("{:02x}", static_cast<unsigned>(head[i]));
      return Error(ErrorCode::kBadData,
                   fmt::format("{}: not a dump this tool knows (ELF vmcore, kdump-compressed, flattened); "
                               "first bytes {}",
                               src->name(), hex),
                   AtOffset(0));
    }
    kinds.push_back(k);
  }
  for (auto& src : sources) dump->info.files.push_back(src->name());

  if (kinds[0] == Kind::kElf) {
    if (sources.size() > 1) {
      return Error(ErrorCode::kInvalidArgument,
                   fmt::format("{}: an ELF vmcore is one file; several files form a split set only "
                               "for kdump-compressed dumps", sources[1]->name()));
    }
    auto r = OpenElfVmcore(*sources[0], *dump);
    if (!r) {
      if (flattened) return std::move(r).error().WithContext("in the dump the flattened stream holds");
      return std::move(r).error();
    }
    if (flattened) dump->info.format = "flattened ELF vmcore";
  } else {
    std::vector<const ByteSource*> raw;
    for (size_t i = 0; i < sources.size(); ++i) {
      if (kinds[i] != Kind::kKdump) {
        return Error(ErrorCode::kInvalidArgument,
                     fmt::format("{}: not a kdump-compressed file, so it cannot join a split set",
                                 sources[i]->name()));
      }
      raw.push_back(sources[i].get());
    }
    auto r = OpenKdumpSet(raw, *dump, flattened ? "flattened kdump-compressed" : "kdump-compressed");
    if (!r) {
      if (flattened) {
        // Offsets in the message are in the file the stream stands for, not in the stream.
        return std::move(r).error().WithContext("in the dump the flattened stream holds");
      }
      return std::move(r).error();
    }
  }
  dump->sources = std::move(sources);
  return dump;
}

Result<std::unique_ptr<Dump>> OpenDump(const std::vector<std::string>& paths) {
  std::vector<std::unique_ptr<ByteSource>> sources;
  for (const auto& p : paths) {
    CORONER_TRY(auto f, FileSource::Open(p));
    sources.push_back(std::move(f));
  }
  return OpenDumpSources(std::move(sources));
}

}  // namespace coroner
