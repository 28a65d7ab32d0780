#include "lib/base/byte_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "lib/base/checked.h"

namespace coroner {

Result<std::unique_ptr<FileSource>> FileSource::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return Error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                 fmt::format("{}: cannot open: {}", path, std::strerror(err)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error(ErrorCode::kIo, fmt::format("{}: cannot stat: {}", path, std::strerror(err)));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Error(ErrorCode::kInvalidArgument, fmt::format("{}: is a directory", path));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  // /proc/vmcore reports its size; /proc/kcore too. A pipe or device reports 0: use lseek.
  if (size == 0 && !S_ISREG(st.st_mode)) {
    off_t end = ::lseek(fd, 0, SEEK_END);
    if (end > 0) size = static_cast<uint64_t>(end);
  }
  const std::byte* map = nullptr;
  if (S_ISREG(st.st_mode) && size > 0 && size <= SIZE_MAX) {
    void* m = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
    if (m != MAP_FAILED) map = static_cast<const std::byte*>(m);
  }
  return std::unique_ptr<FileSource>(new FileSource(fd, size, path, map));
}

FileSource::~FileSource() {
  if (map_) ::munmap(const_cast<std::byte*>(map_), static_cast<size_t>(size_));
  ::close(fd_);
}

Result<void> FileSource::ReadExact(uint64_t offset, std::span<std::byte> out) const {
  if (!RangeFits(offset, out.size(), size_)) {
    return Error(ErrorCode::kTruncated,
                 fmt::format("{}: {} bytes wanted but the file ends at {:#x}", path_, out.size(),
                             size_),
                 AtOffset(offset));
  }
  if (map_) {
    if (!out.empty()) std::memcpy(out.data(), map_ + offset, out.size());
    return Ok();
  }
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                        static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(ErrorCode::kIo, fmt::format("{}: read failed: {}", path_, std::strerror(errno)),
                   AtOffset(offset + done));
    }
    if (n == 0) {
      return Error(ErrorCode::kTruncated, fmt::format("{}: unexpected end of file", path_),
                   AtOffset(offset + done));
    }
    done += static_cast<size_t>(n);
  }
  return Ok();
}

Result<void> MemorySource::ReadExact(uint64_t offset, std::span<std::byte> out) const {
  if (!RangeFits(offset, out.size(), bytes_.size())) {
    return Error(ErrorCode::kTruncated,
                 fmt::format("{}: {} bytes wanted but the data ends at {:#x}", name_, out.size(),
                             bytes_.size()),
                 AtOffset(offset));
  }
  if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
  return Ok();
}

}  // namespace coroner
