#include "lib/dump/flattened.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "lib/base/byte_reader.h"
#include "lib/base/checked.h"

namespace coroner {

bool LooksFlattened(std::span<const std::byte> b) {
  static constexpr char kSig[] = "makedumpfile";
  return b.size() >= 16 && std::memcmp(b.data(), kSig, sizeof(kSig) - 1) == 0 &&
         b[12] == std::byte{0};
}

Result<std::unique_ptr<FlattenedSource>> FlattenedSource::Create(std::unique_ptr<ByteSource> stream,
                                                                 Diagnostics& diag) {
  const std::string& path = stream->name();
  std::array<std::byte, 32> hb{};
  if (!stream->ReadExact(0, hb)) {
    return Error(ErrorCode::kTruncated, fmt::format("{}: flattened header is cut short", path), AtOffset(0));
  }
  ByteReader h(hb, Endian::kBig);
  (void)h.Skip(16);
  int64_t type = *h.I64();
  int64_t version = *h.I64();
  if (type != 1 || version != 1) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{}: flattened format type {} version {} (only 1/1 is known)", path, type, version),
                 AtOffset(16));
  }

  // Pass 1: the records in stream order.
  struct Record { uint64_t offset, size, stream_offset; };
  std::vector<Record> recs;
  const uint64_t end = stream->size();
  uint64_t pos = kFlatHeaderSize;
  auto src = std::unique_ptr<FlattenedSource>(new FlattenedSource(std::move(stream)));
  while (true) {
    std::array<std::byte, 16> rb{};
    if (pos + 16 > end) {
      diag.Warn(fmt::format("{}: flattened stream ends without its end marker at {:#x}", path, pos));
      break;
    }
    CORONER_TRY_VOID(src->stream_->ReadExact(pos, rb));
    ByteReader r(rb, Endian::kBig, pos);
    int64_t off = *r.I64();
    int64_t size = *r.I64();
    if (off == -1 && size == -1) {
      src->complete_ = true;
      break;
    }
    if (off < 0 || size < 0) {
      return Error(ErrorCode::kBadData,
                   fmt::format("{}: flattened record with offset {} size {}", path, off, size), AtOffset(pos));
    }
    auto data_end = CheckedAdd(pos + 16, static_cast<uint64_t>(size));
    if (!data_end || !CheckedAdd(static_cast<uint64_t>(off), static_cast<uint64_t>(size))) {
      return Error(ErrorCode::kOverflow, fmt::format("{}: flattened record size overflows", path), AtOffset(pos));
    }
    uint64_t have = std::min<uint64_t>(static_cast<uint64_t>(size), end - (pos + 16));
    if (have) recs.push_back({static_cast<uint64_t>(off), have, pos + 16});
    if (*data_end > end) {
      diag.Warn(fmt::format("{}: flattened stream is cut inside a record at {:#x}", path, pos));
      break;
    }
    pos = *data_end;
  }
  src->records_ = recs.size();

  // Pass 2: later records win. Insert from the last to the first, keeping only bytes not yet
  // covered. `covered` maps start -> end of disjoint covered intervals.
  std::map<uint64_t, uint64_t> covered;
  std::vector<Extent> out;
  for (auto it = recs.rbegin(); it != recs.rend(); ++it) {
    uint64_t a = it->offset, b = it->offset + it->size;
    auto ci = covered.upper_bound(a);
    if (ci != covered.begin() && std::prev(ci)->second > a) --ci;
    uint64_t cur = a;
    while (cur < b) {
      if (ci == covered.end() || ci->first >= b) {
        out.push_back({cur, b - cur, it->stream_offset + (cur - a)});
        cur = b;
        break;
      }
      if (ci->first > cur) out.push_back({cur, ci->first - cur, it->stream_offset + (cur - a)});
      cur = std::max(cur, ci->second);
      ++ci;
    }
    // Merge [a, b) into covered.
    auto lo = covered.lower_bound(a);
    if (lo != covered.begin() && std::prev(lo)->second >= a) --lo;
    uint64_t na = a, nb = b;
    while (lo != covered.end() && lo->first <= nb) {
      na = std::min(na, lo->first);
      nb = std::max(nb, lo->second);
      lo = covered.erase(lo);
    }
    covered.emplace(na, nb);
  }
  std::sort(out.begin(), out.end(), [](const Extent& x, const Extent& y) { return x.offset < y.offset; });
  src->extents_ = std::move(out);
  src->size_ = covered.empty() ? 0 : std::prev(covered.end())->second;
  return src;
}

Result<void> FlattenedSource::ReadExact(uint64_t offset, std::span<std::byte> out) const {
  if (!RangeFits(offset, out.size(), size_)) {
    return Error(ErrorCode::kTruncated,
                 fmt::format("{}: {} bytes wanted but the flattened data ends at {:#x}", name(), out.size(), size_),
                 AtOffset(offset));
  }
  size_t done = 0;
  auto it = std::upper_bound(extents_.begin(), extents_.end(), offset,
                             [](uint64_t x, const Extent& e) { return x < e.offset; });
  if (it != extents_.begin()) --it;
  while (done < out.size()) {
    uint64_t at = offset + done;
    while (it != extents_.end() && it->offset + it->length <= at) ++it;
    if (it == extents_.end() || it->offset > at) {
      // A gap inside the file: makedumpfile seeks over bytes it never writes (padding after
      // headers), so the file the stream stands for has zeros there, as `makedumpfile -R`
      // would leave them.
      uint64_t gap_end = it == extents_.end() ? size_ : it->offset;
      uint64_t n = std::min<uint64_t>(gap_end - at, out.size() - done);
      std::fill_n(out.begin() + static_cast<ptrdiff_t>(done), n, std::byte{0});
      done += n;
      continue;
    }
    uint64_t n = std::min<uint64_t>(it->offset + it->length - at, out.size() - done);
    CORONER_TRY_VOID(stream_->ReadExact(it->stream_offset + (at - it->offset), out.subspan(done, n)));
    done += n;
  }
  return Ok();
}

}  // namespace coroner
