// Runs the coroner-kdump-write binary on synthetic dumps written to a temporary directory and
// checks what it writes with the readers.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "lib/dump/dump.h"
#include "lib/dump/kdump_compressed.h"
#include "lib/dump/testing/synthetic_dump.h"

namespace coroner {
namespace {

using namespace coroner::testing;  // NOLINT: test helpers
using Bytes = std::vector<std::byte>;

class KdumpWriteTool : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kdump-write-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    spec_ = StandardSpec();
    Write("in.elf", BuildElf(spec_));
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  void Write(const std::string& name, const Bytes& b) const {
    std::ofstream f(Path(name), std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  Bytes Read(const std::string& name) const {
    std::ifstream f(Path(name), std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    Bytes b(s.size());
    std::memcpy(b.data(), s.data(), s.size());
    return b;
  }
  // Runs the tool in the temporary directory; returns its exit status.
  int Tool(const std::string& args) const {
    std::string cmd = "cd " + dir_ + " && " + CORONER_KDUMP_WRITE + " -q " + args + " 2>" + dir_ + "/stderr";
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  std::string Stderr() const {
    Bytes b = Read("stderr");
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  std::unique_ptr<Dump> Open(std::vector<std::string> names) const {
    std::vector<std::string> paths;
    for (auto& n : names) paths.push_back(Path(n));
    auto d = OpenDump(paths);
    EXPECT_TRUE(d) << d.error().ToString();
    return d ? std::move(*d) : nullptr;
  }

  std::string dir_;
  DumpSpec spec_;
};

TEST_F(KdumpWriteTool, EveryCompression) {
  const std::pair<const char*, const char*> methods[] = {
      {"", "none"}, {"-c", "zlib"}, {"-l", "lzo"}, {"-p", "snappy"}, {"-z", "zstd"}};
  for (auto [flag, name] : methods) {
    SCOPED_TRACE(name);
    ASSERT_EQ(Tool(std::string(flag) + " in.elf out.kdump"), 0) << Stderr();
    auto d = Open({"out.kdump"});
    ASSERT_TRUE(d);
    EXPECT_EQ(d->info.format, "kdump-compressed");
    EXPECT_EQ(CheckPages(*d->memory, spec_), "");
    EXPECT_NE(std::find(d->info.compression.begin(), d->info.compression.end(), name),
              d->info.compression.end());
    // The header describes the machine as the ELF vmcore's memory and notes do.
    Bytes b = Read("out.kdump");
    auto h = ParseKdumpHeader(std::span(b).first(kDiskDumpHeaderSize),
                              std::span(b).subspan(4096, kKdumpSubHeaderSize));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->utsname[1], "test-node");
    EXPECT_EQ(h->utsname[3], spec_.description.utsname[3]);
    EXPECT_EQ(h->timestamp_sec, 1700000000);
    EXPECT_EQ(h->nr_cpus, 2);
  }
}

TEST_F(KdumpWriteTool, DeterministicFlattenedToStdoutSplitAndElf) {
  ASSERT_EQ(Tool("-z in.elf a.kdump"), 0) << Stderr();
  ASSERT_EQ(Tool("-z in.elf b.kdump"), 0) << Stderr();
  EXPECT_EQ(Read("a.kdump"), Read("b.kdump"));

  ASSERT_EQ(Tool("-c -F in.elf - > out.flat"), 0) << Stderr();
  auto flat = Open({"out.flat"});
  ASSERT_TRUE(flat);
  EXPECT_EQ(flat->info.format, "flattened kdump-compressed");
  EXPECT_EQ(CheckPages(*flat->memory, spec_), "");
  ASSERT_EQ(Tool("-c -F in.elf out2.flat"), 0) << Stderr();
  EXPECT_EQ(Read("out.flat"), Read("out2.flat"));

  ASSERT_EQ(Tool("-p --split 3 in.elf s1 s2 s3"), 0) << Stderr();
  auto split = Open({"s3", "s1", "s2"});
  ASSERT_TRUE(split);
  EXPECT_FALSE(split->info.incomplete);
  EXPECT_EQ(CheckPages(*split->memory, spec_), "");

  // Back to ELF from the split set.
  ASSERT_EQ(Tool("-E s1 s2 s3 back.elf"), 0) << Stderr();
  auto elf = Open({"back.elf"});
  ASSERT_TRUE(elf);
  EXPECT_EQ(elf->info.format, "ELF vmcore");
  EXPECT_EQ(CheckPages(*elf->memory, spec_), "");
}

TEST_F(KdumpWriteTool, UnreadablePagesExitTwoAndMarkIncomplete) {
  // A zlib kdump whose pfn 1 data is corrupt: reading it fails, so it is written as missing.
  KdumpWriterOptions o;
  o.compression = Compression::kZlib;
  Bytes kd = BuildKdump(spec_, o);
  KdumpLayout l = KdumpLayoutOf(kd);
  uint64_t off1 = LoadLE64At(kd, l.desc_offset + 24);
  Patch(kd, off1, Bytes(8, std::byte{0xff}));
  Write("bad.kdump", kd);
  EXPECT_EQ(Tool("-z bad.kdump out.kdump"), 2);
  auto d = Open({"out.kdump"});
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->info.incomplete);
  EXPECT_EQ(d->memory->StateOf(Pfn{1}), PageState::kTruncated);
  EXPECT_EQ(d->memory->CountPages().dumped, 161u);
}

TEST_F(KdumpWriteTool, RefusesBadArguments) {
  EXPECT_EQ(Tool(""), 1);
  EXPECT_EQ(Tool("in.elf"), 1);
  EXPECT_EQ(Tool("-c -z in.elf out"), 1);
  EXPECT_EQ(Tool("--split 1 in.elf out"), 1);
  EXPECT_EQ(Tool("--split 3 in.elf a b"), 1);
  EXPECT_EQ(Tool("--bogus in.elf out"), 1);
  EXPECT_EQ(Tool("-E -c in.elf out"), 1);
  EXPECT_EQ(Tool("-F --split 2 in.elf - out"), 1);
  EXPECT_EQ(Tool("in.elf - > /dev/null"), 1);  // kdump to a pipe needs -F
  EXPECT_NE(Stderr().find("-F"), std::string::npos);
  Bytes before = Read("in.elf");
  EXPECT_EQ(Tool("in.elf in.elf"), 1);  // would overwrite its input
  EXPECT_EQ(Read("in.elf"), before);
  EXPECT_EQ(Tool("missing.elf out"), 1);
  EXPECT_NE(Stderr().find("missing.elf"), std::string::npos);
  struct stat st;
  EXPECT_NE(::stat(Path("out").c_str(), &st), 0);  // nothing left behind
}

}  // namespace
}  // namespace coroner
