// Byte sinks: memory, files (seekable and pipes) and makedumpfile's flattened stream, byte by
// byte against the format (makedumpfile.h: makedumpfile_header, makedumpfile_data_header).
#include "lib/dump/byte_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "lib/base/byte_source.h"
#include "lib/dump/flattened.h"

namespace coroner {
namespace {

using Bytes = std::vector<std::byte>;

Bytes Str(std::string_view s) {
  Bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

uint64_t BE64(const Bytes& b, size_t off) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(b[off + i]);
  return v;
}

TEST(MemorySink, PositionalWritesLeaveZeroGaps) {
  MemorySink m("m");
  ASSERT_TRUE(m.WriteAt(10, Str("xyz")));
  ASSERT_TRUE(m.WriteAt(2, Str("ab")));
  ASSERT_TRUE(m.WriteAt(11, Str("Y")));
  Bytes want(13);
  std::memcpy(want.data() + 2, "ab", 2);
  std::memcpy(want.data() + 10, "xYz", 3);
  EXPECT_EQ(m.bytes(), want);
  EXPECT_FALSE(m.WriteAt(~uint64_t{0} - 1, Str("ab")));  // overflow, not a crash
}

TEST(FlattenedSink, HeaderRecordsAndEndMarkerAsMakedumpfileWritesThem) {
  auto inner = std::make_unique<MemorySink>("flat");
  MemorySink* raw = inner.get();
  FlattenedSink flat(std::move(inner));
  ASSERT_TRUE(flat.WriteAt(0x2000, Str("hello")));
  ASSERT_TRUE(flat.WriteAt(0, Str("KDUMP")));
  ASSERT_TRUE(flat.WriteAt(7, {}));  // empty writes make no record
  ASSERT_TRUE(flat.Finish());
  const Bytes& b = raw->bytes();
  ASSERT_EQ(b.size(), 4096u + 16 + 5 + 16 + 5 + 16);
  EXPECT_EQ(std::memcmp(b.data(), "makedumpfile\0\0\0\0", 16), 0);  // signature[16]
  EXPECT_EQ(BE64(b, 16), 1u);  // type: TYPE_FLAT_HEADER, big-endian
  EXPECT_EQ(BE64(b, 24), 1u);  // version: VERSION_FLAT_HEADER
  for (size_t i = 32; i < 4096; ++i) ASSERT_EQ(b[i], std::byte{0}) << i;
  EXPECT_EQ(BE64(b, 4096), 0x2000u);  // {offset, buf_size}, then the data
  EXPECT_EQ(BE64(b, 4104), 5u);
  EXPECT_EQ(std::memcmp(b.data() + 4112, "hello", 5), 0);
  EXPECT_EQ(BE64(b, 4117), 0u);
  EXPECT_EQ(BE64(b, 4125), 5u);
  EXPECT_EQ(BE64(b, 4138), ~uint64_t{0});  // END_FLAG_FLAT_HEADER twice
  EXPECT_EQ(BE64(b, 4146), ~uint64_t{0});
  EXPECT_EQ(flat.record_count(), 2u);

  // And coroner's reader presents the file it stands for.
  Diagnostics diag;
  auto src = FlattenedSource::Create(std::make_unique<MemorySource>(b, "flat"), diag);
  ASSERT_TRUE(src) << src.error().ToString();
  EXPECT_TRUE((*src)->complete());
  EXPECT_EQ((*src)->size(), 0x2005u);
  Bytes got(5);
  ASSERT_TRUE((*src)->ReadExact(0x2000, got));
  EXPECT_EQ(got, Str("hello"));
}

TEST(FileSink, FileAndPipe) {
  char tmpl[] = "/tmp/byte-sink-test.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  {
    auto f = FileSink::Create(tmpl);
    ASSERT_TRUE(f) << f.error().ToString();
    ASSERT_TRUE((*f)->WriteAt(4, Str("tail")));
    ASSERT_TRUE((*f)->WriteAt(0, Str("head")));
    ASSERT_TRUE((*f)->Finish());
  }
  auto back = FileSource::Open(tmpl);
  ASSERT_TRUE(back);
  Bytes got(8);
  ASSERT_TRUE((*back)->ReadExact(0, got));
  EXPECT_EQ(got, Str("headtail"));
  ::unlink(tmpl);

  auto bad = FileSink::Create("/nonexistent-dir/x");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("/nonexistent-dir/x"), std::string::npos);

  // A pipe takes sequential writes only.
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  int saved = ::dup(STDOUT_FILENO);
  ::dup2(p[1], STDOUT_FILENO);
  {
    auto s = FileSink::Create("-");
    ASSERT_TRUE(s);
    EXPECT_TRUE((*s)->WriteAt(0, Str("ab")));
    auto seek = (*s)->WriteAt(0, Str("cd"));
    EXPECT_FALSE(seek);
    EXPECT_TRUE((*s)->WriteAt(2, Str("cd")));
    EXPECT_TRUE((*s)->Finish());
  }
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  ::close(p[1]);
  char buf[8] = {};
  EXPECT_EQ(::read(p[0], buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf, 4), "abcd");
  ::close(p[0]);
}

TEST(SequentialWriter, CoalescesUntilCapacity) {
  MemorySink m;
  SequentialWriter w(m, 100, 8);
  ASSERT_TRUE(w.Append(Str("abc")));
  EXPECT_TRUE(m.bytes().empty());
  EXPECT_EQ(w.offset(), 103u);
  EXPECT_FALSE(w.WouldFlush(4));
  EXPECT_TRUE(w.WouldFlush(5));
  ASSERT_TRUE(w.Append(Str("defgh")));  // reaches 8: written out
  EXPECT_EQ(m.bytes().size(), 108u);
  ASSERT_TRUE(w.Append(Str("i")));
  ASSERT_TRUE(w.Flush());
  EXPECT_EQ(m.bytes().size(), 109u);
  EXPECT_EQ(std::memcmp(m.bytes().data() + 100, "abcdefghi", 9), 0);
}

}  // namespace
}  // namespace coroner
