// Where dump writers put their bytes: positional writes, like pwrite(2), so a writer can fill
// in a header after the data it describes. The same writer output can go to memory (tests), a
// file, or makedumpfile's flattened stream (-F), which turns every write into a record
// {be64 offset, be64 size, data} and so works on a pipe.
//
//   CORONER_TRY(auto file, FileSink::Create("out.kdump"));
//   auto flat = std::make_unique<FlattenedSink>(std::move(file));  // optional
//   CORONER_TRY_VOID(flat->WriteAt(0, header_bytes));
//   CORONER_TRY_VOID(flat->Finish());  // flushes; the flattened sink adds its end marker
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lib/base/error.h"

namespace coroner {

class ByteSink {
 public:
  virtual ~ByteSink() = default;

  // Writes `data` at `offset` of the output. Bytes never written read back as zeros.
  virtual Result<void> WriteAt(uint64_t offset, std::span<const std::byte> data) = 0;
  // Flushes everything; no writes may follow.
  virtual Result<void> Finish() = 0;
  // Asks for space for [offset, offset + size) to be allocated now, so later writes there
  // cannot fail for want of space (a file: fallocate). Best effort; the default does nothing.
  virtual void Reserve(uint64_t /*offset*/, uint64_t /*size*/) {}
  // A name for messages (the path).
  virtual const std::string& name() const = 0;
};

// Output kept in memory (tests, fuzz corpora).
class MemorySink final : public ByteSink {
 public:
  explicit MemorySink(std::string name = "<memory>") : name_(std::move(name)) {}
  Result<void> WriteAt(uint64_t offset, std::span<const std::byte> data) override;
  Result<void> Finish() override { return Ok(); }
  const std::string& name() const override { return name_; }

  const std::vector<std::byte>& bytes() const { return bytes_; }
  std::vector<std::byte> TakeBytes() { return std::move(bytes_); }

 private:
  std::vector<std::byte> bytes_;
  std::string name_;
};

// A file created (or truncated) for writing; "-" is standard output. On a pipe only
// sequential writes work (wrap it in a FlattenedSink for kdump output, as makedumpfile -F does).
class FileSink final : public ByteSink {
 public:
  static Result<std::unique_ptr<FileSink>> Create(const std::string& path);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  Result<void> WriteAt(uint64_t offset, std::span<const std::byte> data) override;
  Result<void> Finish() override;
  void Reserve(uint64_t offset, uint64_t size) override;
  const std::string& name() const override { return path_; }

 private:
  FileSink(int fd, bool seekable, bool owned, std::string path)
      : fd_(fd), seekable_(seekable), owned_(owned), path_(std::move(path)) {}
  int fd_;
  bool seekable_;
  bool owned_;
  uint64_t pos_ = 0;  // next sequential offset (pipes)
  bool finished_ = false;
  std::string path_;
};

// makedumpfile's flattened format (makedumpfile.h: MAKEDUMPFILE_SIGNATURE, TYPE_FLAT_HEADER,
// VERSION_FLAT_HEADER, END_FLAG_FLAT_HEADER): a 4096-byte header ("makedumpfile", be64 type 1,
// be64 version 1, zeros), then one record per WriteAt, then the end marker {-1, -1}. The records
// are appended to `stream` in order, so the stream may be a pipe.
class FlattenedSink final : public ByteSink {
 public:
  explicit FlattenedSink(std::unique_ptr<ByteSink> stream) : stream_(std::move(stream)) {}
  Result<void> WriteAt(uint64_t offset, std::span<const std::byte> data) override;
  Result<void> Finish() override;
  const std::string& name() const override { return stream_->name(); }

  uint64_t record_count() const { return records_; }

 private:
  Result<void> Append(std::span<const std::byte> bytes);
  Result<void> StartIfNeeded();
  std::unique_ptr<ByteSink> stream_;
  uint64_t pos_ = 0;  // where the next stream bytes go
  uint64_t records_ = 0;
};

// Coalesces small sequential writes (page descriptors, page data) into large WriteAt calls,
// which become large records in a flattened stream.
class SequentialWriter {
 public:
  SequentialWriter(ByteSink& sink, uint64_t start, size_t capacity = 1u << 20)
      : sink_(&sink), next_(start), capacity_(capacity) {
    buf_.reserve(capacity);
  }
  // Buffers `bytes`; writes the buffer out once it holds `capacity` bytes or more.
  Result<void> Append(std::span<const std::byte> bytes);
  Result<void> Flush();
  // Writes as much of the buffer as the sink takes, `chunk` bytes at a time, stopping at the
  // first failure (what was written counts as flushed). For salvaging data on a full disk.
  void FlushWhatFits(size_t chunk);
  // Offset of the next byte appended.
  uint64_t offset() const { return next_ + buf_.size(); }
  // Offset up to which everything appended has been written to the sink.
  uint64_t flushed() const { return next_; }
  // True when appending n more bytes would write the buffer out.
  bool WouldFlush(size_t n) const { return buf_.size() + n >= capacity_; }

 private:
  ByteSink* sink_;
  uint64_t next_;  // where buf_ starts
  size_t capacity_;
  std::vector<std::byte> buf_;
};

}  // namespace coroner
