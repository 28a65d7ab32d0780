#include "lib/dump/byte_sink.h"

#include <algorithm>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "lib/base/checked.h"

namespace coroner {

Result<void> MemorySink::WriteAt(uint64_t offset, std::span<const std::byte> data) {
  auto end = CheckedAdd(offset, data.size());
  if (!end || *end > (uint64_t{1} << 40)) {
    return Error(ErrorCode::kOverflow,
                 fmt::format("{}: write of {} bytes at {:#x} is too large for memory", name_,
                             data.size(), offset),
                 AtOffset(offset));
  }
  if (bytes_.size() < *end) bytes_.resize(*end);
  if (!data.empty()) std::memcpy(bytes_.data() + offset, data.data(), data.size());
  return Ok();
}

Result<std::unique_ptr<FileSink>> FileSink::Create(const std::string& path) {
  if (path == "-") {
    bool seekable = ::lseek(STDOUT_FILENO, 0, SEEK_CUR) != static_cast<off_t>(-1);
    return std::unique_ptr<FileSink>(new FileSink(STDOUT_FILENO, seekable, false, "<stdout>"));
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    return Error(ErrorCode::kIo, fmt::format("{}: cannot create: {}", path, std::strerror(err)));
  }
  bool seekable = ::lseek(fd, 0, SEEK_CUR) != static_cast<off_t>(-1);
  return std::unique_ptr<FileSink>(new FileSink(fd, seekable, true, path));
}

FileSink::~FileSink() {
  if (owned_ && !finished_) ::close(fd_);
}

Result<void> FileSink::WriteAt(uint64_t offset, std::span<const std::byte> data) {
  if (finished_) return Error(ErrorCode::kInvalidArgument, fmt::format("{}: write after finish", path_));
  if (!seekable_ && offset != pos_) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: cannot seek to {:#x} in a pipe (at {:#x}); write the flattened "
                             "format instead",
                             path_, offset, pos_),
                 AtOffset(offset));
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = seekable_ ? ::pwrite(fd_, data.data() + done, data.size() - done,
                                     static_cast<off_t>(offset + done))
                          : ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(ErrorCode::kIo, fmt::format("{}: write failed: {}", path_, std::strerror(errno)),
                   AtOffset(offset + done));
    }
    done += static_cast<size_t>(n);
  }
  pos_ = offset + data.size();
  return Ok();
}

void FileSink::Reserve(uint64_t offset, uint64_t size) {
  if (seekable_ && size) (void)::posix_fallocate(fd_, static_cast<off_t>(offset), static_cast<off_t>(size));
}

Result<void> FileSink::Finish() {
  if (finished_) return Ok();
  finished_ = true;
  if (!owned_) return Ok();
  if (::close(fd_) != 0) {
    return Error(ErrorCode::kIo, fmt::format("{}: close failed: {}", path_, std::strerror(errno)));
  }
  return Ok();
}

namespace {

void PutBE64(std::byte* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<std::byte>(v & 0xff);
    v >>= 8;
  }
}

constexpr size_t kFlatHeaderBytes = 4096;  // MAX_SIZE_MDF_HEADER

}  // namespace

Result<void> FlattenedSink::Append(std::span<const std::byte> bytes) {
  CORONER_TRY_VOID(stream_->WriteAt(pos_, bytes));
  pos_ += bytes.size();
  return Ok();
}

Result<void> FlattenedSink::StartIfNeeded() {
  if (pos_ != 0) return Ok();
  std::vector<std::byte> h(kFlatHeaderBytes);
  static constexpr char kSig[] = "makedumpfile";  // signature[16], NUL-padded
  std::memcpy(h.data(), kSig, sizeof(kSig) - 1);
  PutBE64(h.data() + 16, 1);  // type: TYPE_FLAT_HEADER
  PutBE64(h.data() + 24, 1);  // version: VERSION_FLAT_HEADER
  return Append(h);
}

Result<void> FlattenedSink::WriteAt(uint64_t offset, std::span<const std::byte> data) {
  if (data.empty()) return Ok();
  if (offset > static_cast<uint64_t>(INT64_MAX) || data.size() > static_cast<uint64_t>(INT64_MAX)) {
    return Error(ErrorCode::kOverflow, fmt::format("{}: record offset overflows", name()),
                 AtOffset(offset));
  }
  CORONER_TRY_VOID(StartIfNeeded());
  std::array<std::byte, 16> rec;
  PutBE64(rec.data(), offset);
  PutBE64(rec.data() + 8, data.size());
  CORONER_TRY_VOID(Append(rec));
  CORONER_TRY_VOID(Append(data));
  ++records_;
  return Ok();
}

Result<void> FlattenedSink::Finish() {
  CORONER_TRY_VOID(StartIfNeeded());
  std::array<std::byte, 16> end;
  PutBE64(end.data(), ~uint64_t{0});  // END_FLAG_FLAT_HEADER (-1) for offset and size
  PutBE64(end.data() + 8, ~uint64_t{0});
  CORONER_TRY_VOID(Append(end));
  return stream_->Finish();
}

Result<void> SequentialWriter::Append(std::span<const std::byte> bytes) {
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  if (buf_.size() >= capacity_) return Flush();
  return Ok();
}

Result<void> SequentialWriter::Flush() {
  if (buf_.empty()) return Ok();
  CORONER_TRY_VOID(sink_->WriteAt(next_, buf_));
  next_ += buf_.size();
  buf_.clear();
  return Ok();
}

void SequentialWriter::FlushWhatFits(size_t chunk) {
  size_t done = 0;
  while (done < buf_.size()) {
    const size_t n = std::min(chunk, buf_.size() - done);
    if (!sink_->WriteAt(next_ + done, std::span(buf_).subspan(done, n))) break;
    done += n;
  }
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(done));
  next_ += done;
}

}  // namespace coroner
