// makedumpfile's flattened stream (-F): a 4096-byte header ("makedumpfile", type 1, version 1,
// big-endian), then records {be64 offset, be64 size, data} in any order, which together spell
// out the dump file they stand for (later records overwrite earlier ones), ended by a record
// whose offset and size are both -1. FlattenedSource indexes the records once and presents the
// reassembled file as a ByteSource, so no separate `makedumpfile -R` step is needed.
//
//   CORONER_TRY(auto flat, FlattenedSource::Create(std::move(file_source)));
//   // read *flat like the kdump file it contains
#pragma once

#include <memory>
#include <vector>

#include "lib/base/byte_source.h"
#include "lib/base/diagnostics.h"

namespace coroner {

inline constexpr size_t kFlatHeaderSize = 4096;

bool LooksFlattened(std::span<const std::byte> first_bytes);

class FlattenedSource final : public ByteSource {
 public:
  static Result<std::unique_ptr<FlattenedSource>> Create(std::unique_ptr<ByteSource> stream,
                                                         Diagnostics& diag);

  uint64_t size() const override { return size_; }
  Result<void> ReadExact(uint64_t offset, std::span<std::byte> out) const override;
  const std::string& name() const override { return stream_->name(); }

  bool complete() const { return complete_; }   // the end marker was found
  size_t record_count() const { return records_; }

  struct Extent {
    uint64_t offset;         // in the reassembled file
    uint64_t length;
    uint64_t stream_offset;  // where the bytes are in the stream
  };
  const std::vector<Extent>& extents() const { return extents_; }

 private:
  explicit FlattenedSource(std::unique_ptr<ByteSource> stream) : stream_(std::move(stream)) {}
  std::unique_ptr<ByteSource> stream_;
  std::vector<Extent> extents_;  // sorted, non-overlapping
  uint64_t size_ = 0;
  bool complete_ = false;
  size_t records_ = 0;
};

}  // namespace coroner
