#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "lib/base/byte_reader.h"
#include "lib/base/byte_source.h"
#include "lib/base/checked.h"
#include "lib/base/diagnostics.h"

namespace coroner {
namespace {

std::vector<std::byte> Bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

TEST(ByteReader, ReadsBothEndiansAndDoesNotAdvanceOnFailure) {
  auto b = Bytes({0x01, 0x02, 0x03, 0x04, 0x05});
  ByteReader le(b, Endian::kLittle, 0x100);
  EXPECT_EQ(*le.U32(), 0x04030201u);
  auto fail = le.U32();
  ASSERT_FALSE(fail);
  EXPECT_EQ(fail.error().code(), ErrorCode::kTruncated);
  ASSERT_TRUE(fail.error().where());
  EXPECT_EQ(fail.error().where()->value, 0x104u);  // absolute offset of the failed read
  EXPECT_EQ(le.pos(), 4u);
  EXPECT_EQ(*le.U8(), 0x05);

  ByteReader be(b, Endian::kBig);
  EXPECT_EQ(*be.U16(), 0x0102);
}

TEST(ByteReader, FixedStringStopsAtNul) {
  auto b = Bytes({'a', 'b', 0, 'c'});
  ByteReader r(b, Endian::kLittle);
  EXPECT_EQ(*r.FixedString(4), "ab");
  EXPECT_TRUE(r.empty());
}

TEST(Checked, Overflow) {
  EXPECT_FALSE(CheckedAdd(~0ull, 1));
  EXPECT_EQ(*CheckedAdd(1, 2), 3u);
  EXPECT_FALSE(CheckedMul(1ull << 63, 2));
  EXPECT_TRUE(RangeFits(10, 5, 15));
  EXPECT_FALSE(RangeFits(10, 6, 15));
  EXPECT_FALSE(RangeFits(~0ull, 2, 15));
}

TEST(MemorySource, ReadPastEndNamesOffset) {
  MemorySource m(Bytes({1, 2, 3}), "mem");
  std::array<std::byte, 2> out{};
  EXPECT_TRUE(m.ReadExact(1, out));
  auto r = m.ReadExact(2, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTruncated);
  EXPECT_NE(r.error().ToString().find("at file offset 0x2"), std::string::npos);
}

TEST(FileSource, MissingFile) {
  auto f = FileSource::Open("/nonexistent/coroner-test");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(f.error().message().find("/nonexistent/coroner-test"), std::string::npos);
}

// A temporary file with the given bytes, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::vector<std::byte>& bytes) {
    char name[] = "/tmp/coroner-base-test-XXXXXX";
    int fd = ::mkstemp(name);
    EXPECT_GE(fd, 0);
    path_ = name;
    if (!bytes.empty()) {
      EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    }
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::byte> Pattern(size_t n) {
  std::vector<std::byte> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 7 + i / 4096) & 0xff);
  return b;
}

TEST(FileSource, ReadsAnywhereInsideAndFailsPastTheEnd) {
  const auto bytes = Pattern(3 * 4096 + 100);
  TempFile t(bytes);
  auto f = FileSource::Open(t.path());
  ASSERT_TRUE(f) << f.error().ToString();
  EXPECT_EQ((*f)->size(), bytes.size());
  for (uint64_t off : {uint64_t{0}, uint64_t{1}, uint64_t{4095}, uint64_t{4096}, uint64_t{8000},
                       uint64_t{bytes.size() - 4096}}) {
    std::vector<std::byte> out(4096);
    ASSERT_TRUE((*f)->ReadExact(off, out)) << off;
    EXPECT_TRUE(std::equal(out.begin(), out.end(), bytes.begin() + static_cast<ptrdiff_t>(off))) << off;
  }
  std::vector<std::byte> none;
  EXPECT_TRUE((*f)->ReadExact(bytes.size(), none));
  std::vector<std::byte> one(1);
  auto r = (*f)->ReadExact(bytes.size(), one);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTruncated);
  std::vector<std::byte> page(4096);
  r = (*f)->ReadExact(bytes.size() - 10, page);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTruncated);
  EXPECT_FALSE((*f)->ReadExact(~uint64_t{0} - 1, page));
}

TEST(FileSource, EmptyFile) {
  TempFile t({});
  auto f = FileSource::Open(t.path());
  ASSERT_TRUE(f) << f.error().ToString();
  EXPECT_EQ((*f)->size(), 0u);
  std::vector<std::byte> none, one(1);
  EXPECT_TRUE((*f)->ReadExact(0, none));
  EXPECT_FALSE((*f)->ReadExact(0, one));
}

TEST(FileSource, SizeIsFixedWhenOpened) {
  const auto bytes = Pattern(5000);
  TempFile t(bytes);
  auto f = FileSource::Open(t.path());
  ASSERT_TRUE(f);
  {  // The file grows (a dump still being copied): the source still ends where it did.
    int fd = ::open(t.path().c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(::write(fd, bytes.data(), 100), 100);
    ::close(fd);
  }
  EXPECT_EQ((*f)->size(), 5000u);
  std::vector<std::byte> out(200);
  EXPECT_FALSE((*f)->ReadExact(4900, out));
  out.resize(100);
  ASSERT_TRUE((*f)->ReadExact(4900, out));
  EXPECT_TRUE(std::equal(out.begin(), out.end(), bytes.begin() + 4900));
}

TEST(FileSource, RegularFileReportingNoSizeIsNotMapped) {
  // /proc/self/status is a regular file that reports size 0: nothing to map, nothing to read.
  auto f = FileSource::Open("/proc/self/status");
  ASSERT_TRUE(f) << f.error().ToString();
  EXPECT_EQ((*f)->size(), 0u);
  std::vector<std::byte> one(1);
  EXPECT_FALSE((*f)->ReadExact(0, one));
}

TEST(Diagnostics, DeduplicatesWithCount) {
  Diagnostics d;
  d.Warn("a");
  d.Warn("b");
  d.Warn("a");
  ASSERT_EQ(d.warnings().size(), 2u);
  EXPECT_EQ(d.warnings()[0].count, 2u);
}

}  // namespace
}  // namespace coroner
