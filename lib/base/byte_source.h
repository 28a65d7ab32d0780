// Random-access bytes: a file, a buffer, or a container format (the flattened stream) that
// presents the file it stands for. Dump readers read through this and never see which.
//
//   CORONER_TRY(auto file, FileSource::Open("vmcore"));
//   std::array<std::byte, 64> ehdr;
//   CORONER_TRY_VOID(file->ReadExact(0, ehdr));
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lib/base/error.h"

namespace coroner {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Bytes available (for a truncated file, what is actually there).
  virtual uint64_t size() const = 0;
  // Fills all of `out` from `offset`, or fails: kTruncated when the range passes size(),
  // kIo when the system read fails, kNotPresent when a container has a gap there.
  virtual Result<void> ReadExact(uint64_t offset, std::span<std::byte> out) const = 0;
  // A name for messages (the file's path).
  virtual const std::string& name() const = 0;
};

// A regular file (or /proc/vmcore, /proc/kcore). A regular file is mapped into memory once and
// read with memcpy, which costs a fraction of a pread system call per page; anything that cannot
// be mapped (/proc/kcore, pipes, devices, empty files) is read with pread. As with any mapped
// file (libkdumpfile and makedumpfile map dumps too), a file cut shorter while it is open makes
// reads of the lost part fault: do not truncate a dump that is being analysed.
class FileSource final : public ByteSource {
 public:
  static Result<std::unique_ptr<FileSource>> Open(const std::string& path);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  uint64_t size() const override { return size_; }
  Result<void> ReadExact(uint64_t offset, std::span<std::byte> out) const override;
  const std::string& name() const override { return path_; }

 private:
  FileSource(int fd, uint64_t size, std::string path, const std::byte* map)
      : fd_(fd), size_(size), path_(std::move(path)), map_(map) {}
  int fd_;
  uint64_t size_;
  std::string path_;
  const std::byte* map_;  // the whole file, or nullptr: read with pread
};

// Bytes held in memory (tests, fuzzing, small synthetic dumps).
class MemorySource final : public ByteSource {
 public:
  MemorySource(std::vector<std::byte> bytes, std::string name = "<memory>")
      : bytes_(std::move(bytes)), name_(std::move(name)) {}
  uint64_t size() const override { return bytes_.size(); }
  Result<void> ReadExact(uint64_t offset, std::span<std::byte> out) const override;
  const std::string& name() const override { return name_; }

 private:
  std::vector<std::byte> bytes_;
  std::string name_;
};

}  // namespace coroner
