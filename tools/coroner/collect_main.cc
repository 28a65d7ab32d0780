// `coroner collect`: makedumpfile's command line over lib/collect, so a kdump.conf
// `core_collector makedumpfile -c --message-level 1 -d 31` works with only the program name
// changed. Thin: parses flags, opens files, prints progress and the summary.
//
//   coroner collect [-c|-l|-p|-z] [-d LEVEL[,LEVEL...]] [-E] [-F] [-f] [--num-threads N]
//                   [--message-level N] [--split] IN OUT [OUT...]
//   coroner collect -R OUT < flattened          (reassemble a flattened stream)
//   coroner collect --dump-dmesg IN OUT         (the kernel log, as makedumpfile writes it)
//   coroner collect --mem-usage /proc/kcore      (how big a dump would be, at each level)
//   coroner collect --triage-file F [flags] IN OUT   (first a small file for sys/log/ps/bt)
//
// Exit status: 0 the dump is complete; 1 nothing usable, or a dump marked incomplete because
// a write failed or the run was interrupted (the file still opens); 2 written, but some input
// pages could not be read (marked incomplete, those pages missing).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "lib/collect/collector.h"
#include "lib/dump/byte_sink.h"
#include "lib/dump/dump.h"
#include "lib/kernel/printk.h"
#include "lib/memory/kernel_memory.h"
#include "lib/triage/triage.h"

namespace coroner {
namespace {

constexpr std::string_view kUsage =
    "usage: coroner collect [-c|-l|-p|-z] [-d LEVEL[,LEVEL...]] [-E] [-F] [-f]\n"
    "                       [--num-threads N] [--message-level N] [--split] IN OUT [OUT...]\n"
    "       coroner collect -R OUT < FLATTENED\n"
    "       coroner collect --dump-dmesg IN OUT\n"
    "       coroner collect --mem-usage IN        (IN: /proc/kcore, or any dump)\n"
    "\n"
    "makedumpfile's job: writes the dump IN (/proc/vmcore, or any dump coroner reads) to OUT,\n"
    "leaving out the pages the dump level names, as kdump-compressed (or ELF with -E).\n"
    "  -d LEVEL        sum of: 1 zero pages, 2 non-private cache, 4 all cache, 8 user data,\n"
    "                  16 free pages (default 0). A list (-d 31,11) falls back to the next\n"
    "                  level when the output does not fit.\n"
    "  -c, -l, -p, -z  compress pages with zlib, lzo, snappy or zstd (default: none)\n"
    "  -E              write an ELF vmcore\n"
    "  -F              write makedumpfile's flattened format to standard output (OUT omitted)\n"
    "  -R              read a flattened stream on standard input, write the dump file OUT\n"
    "  -f              overwrite OUT if it exists\n"
    "  --split         write one file per OUT, each holding a share of the pages\n"
    "  --num-threads N read and compress with N threads (output identical for every N)\n"
    "  --message-level N  makedumpfile's bits: 1 progress, 2 messages, 4 errors, 16 report\n"
    "                  (default 7)\n"
    "  --dump-dmesg    write the kernel log of IN to OUT\n"
    "  --mem-usage     print the pages of each kind and the dump size at each level\n"
    "  --triage-file F before the dump, write F: a small kdump file of only the pages coroner's\n"
    "                  sys, log, ps, bt -a and foreach bt read, for a first look at once\n"
    "  --triage-compression zlib|lzo|snappy|zstd|none  its page compression (default zlib)\n";

constexpr int kMsgProgress = 1, kMsgCommon = 2, kMsgError = 4, kMsgReport = 16;

struct Args {
  Compression compression = Compression::kNone;
  std::vector<int> levels{0};
  bool elf = false, flattened = false, reassemble = false, force = false, split = false;
  bool dmesg = false;
  bool mem_usage = false;
  unsigned threads = 0;
  int message_level = 7;
  std::string triage_file;
  Compression triage_compression = Compression::kZlib;
  std::vector<std::string> files;
};

int Usage(const std::string& why) {
  if (!why.empty()) fmt::print(stderr, "coroner collect: {}\n", why);
  fmt::print(stderr, "{}", kUsage);
  return 1;
}

bool ParseInt(std::string_view s, long lo, long hi, long& out) {
  std::string str(s);
  char* end = nullptr;
  long v = std::strtol(str.c_str(), &end, 10);
  if (str.empty() || *end || v < lo || v > hi) return false;
  out = v;
  return true;
}

// Returns an exit status to stop with, or -1 to go on.
int Parse(int argc, char** argv, Args& a) {
  int methods = 0;
  bool options_done = false;
  auto value = [&](int& i, std::string_view s, std::string_view name) -> std::optional<std::string> {
    if (s.size() > name.size() && s[name.size()] == '=') return std::string(s.substr(name.size() + 1));
    if (name.size() == 2 && s.size() > 2) return std::string(s.substr(2));  // -d31
    if (++i >= argc) return std::nullopt;
    return std::string(argv[i]);
  };
  for (int i = 0; i < argc; ++i) {
    std::string_view s = argv[i];
    if (options_done || s == "-" || s.empty() || s[0] != '-') {
      a.files.emplace_back(s);
    } else if (s == "--") {
      options_done = true;
    } else if (s == "-c" || s == "-l" || s == "-p" || s == "-z") {
      a.compression = s == "-c"   ? Compression::kZlib
                      : s == "-l" ? Compression::kLzo
                      : s == "-p" ? Compression::kSnappy
                                  : Compression::kZstd;
      ++methods;
    } else if (s == "-E") {
      a.elf = true;
    } else if (s == "-F") {
      a.flattened = true;
    } else if (s == "-R") {
      a.reassemble = true;
    } else if (s == "-f") {
      a.force = true;
    } else if (s == "--split") {
      a.split = true;
    } else if (s == "--dump-dmesg") {
      a.dmesg = true;
    } else if (s == "--mem-usage") {
      a.mem_usage = true;
    } else if (s.rfind("-d", 0) == 0 && s.rfind("--", 0) != 0) {
      auto v = value(i, s, "-d");
      if (!v) return Usage("-d needs a level");
      a.levels.clear();
      std::string_view rest = *v;
      while (!rest.empty()) {
        size_t comma = rest.find(',');
        long lv;
        if (!ParseInt(rest.substr(0, comma), 0, 31, lv)) return Usage(fmt::format("bad dump level {}", *v));
        a.levels.push_back(static_cast<int>(lv));
        rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
      }
      if (a.levels.empty()) return Usage("-d needs a level");
    } else if (s.rfind("--num-threads", 0) == 0) {
      auto v = value(i, s, "--num-threads");
      long n;
      if (!v || !ParseInt(*v, 0, 256, n)) return Usage("--num-threads takes a number from 0 to 256");
      a.threads = static_cast<unsigned>(n);
    } else if (s.rfind("--triage-file", 0) == 0 && (s.size() == 13 || s[13] == '=')) {
      auto v = value(i, s, "--triage-file");
      if (!v || v->empty()) return Usage("--triage-file needs a file name");
      a.triage_file = *v;
    } else if (s.rfind("--triage-compression", 0) == 0 && (s.size() == 20 || s[20] == '=')) {
      auto v = value(i, s, "--triage-compression");
      if (!v) return Usage("--triage-compression needs a method");
      if (*v == "zlib") a.triage_compression = Compression::kZlib;
      else if (*v == "lzo") a.triage_compression = Compression::kLzo;
      else if (*v == "snappy") a.triage_compression = Compression::kSnappy;
      else if (*v == "zstd") a.triage_compression = Compression::kZstd;
      else if (*v == "none") a.triage_compression = Compression::kNone;
      else return Usage(fmt::format("unknown triage compression {}", *v));
    } else if (s.rfind("--message-level", 0) == 0) {
      auto v = value(i, s, "--message-level");
      long n;
      if (!v || !ParseInt(*v, 0, 31, n)) return Usage("--message-level takes a number from 0 to 31");
      a.message_level = static_cast<int>(n);
    } else if (s.rfind("--cyclic-buffer", 0) == 0 || s.rfind("--work-dir", 0) == 0 || s == "-x" ||
               s == "-i") {
      // makedumpfile's memory and debuginfo knobs: coroner needs neither (VMCOREINFO suffices,
      // memory is bounded by design); accepted so existing command lines work.
      if (s.find('=') == std::string_view::npos && !value(i, s, std::string(s))) {
        return Usage(fmt::format("{} needs a value", s));
      }
    } else if (s == "--non-cyclic" || s == "--non-mmap" || s == "-D" || s == "-b" || s == "--cyclic") {
      // accepted, no effect
    } else if (s == "-h" || s == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else {
      return Usage(fmt::format("unknown option {}", s));
    }
  }
  if (methods > 1) return Usage("give at most one of -c, -l, -p, -z");
  if (a.elf && (methods || a.split || a.flattened)) return Usage("-E takes no compression, -F or --split");
  if (a.flattened && a.split) return Usage("-F and --split do not go together");
  if (!a.triage_file.empty() && (a.reassemble || a.dmesg || a.mem_usage)) {
    return Usage("--triage-file goes with a dump being collected, not -R, --dump-dmesg or --mem-usage");
  }
  if (a.triage_file == "-") return Usage("the triage file cannot go to standard output");
  return -1;
}

bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

std::atomic<bool> g_interrupted{false};
void OnSignal(int) { g_interrupted.store(true); }

// -R: makedumpfile's flattened records from stdin, written where they say.
int Reassemble(const Args& a) {
  if (a.files.size() != 1) return Usage("-R takes one output file (the stream comes on standard input)");
  if (!a.force && Exists(a.files[0])) {
    fmt::print(stderr, "coroner collect: {}: exists; add -f to overwrite it\n", a.files[0]);
    return 1;
  }
  auto sink = FileSink::Create(a.files[0]);
  if (!sink) {
    fmt::print(stderr, "coroner collect: {}\n", sink.error().ToString());
    return 1;
  }
  auto read_all = [](std::byte* p, size_t n) {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::read(STDIN_FILENO, p + done, n - done);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      done += static_cast<size_t>(r);
    }
    return true;
  };
  auto be64 = [](const std::byte* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
    return v;
  };
  std::vector<std::byte> head(4096);
  if (!read_all(head.data(), head.size()) || std::memcmp(head.data(), "makedumpfile", 12) != 0) {
    fmt::print(stderr, "coroner collect: standard input is not a flattened dump\n");
    return 1;
  }
  std::vector<std::byte> buf;
  for (;;) {
    std::byte rec[16];
    if (!read_all(rec, 16)) {
      fmt::print(stderr, "coroner collect: the flattened stream ends without its end marker\n");
      return 1;
    }
    const uint64_t off = be64(rec), size = be64(rec + 8);
    if (off == UINT64_MAX && size == UINT64_MAX) break;
    if (size > (1u << 30)) {
      fmt::print(stderr, "coroner collect: a flattened record of {} bytes: corrupt stream\n", size);
      return 1;
    }
    buf.resize(size);
    if (!read_all(buf.data(), size)) {
      fmt::print(stderr, "coroner collect: the flattened stream is cut short\n");
      return 1;
    }
    if (auto r = (*sink)->WriteAt(off, buf); !r) {
      fmt::print(stderr, "coroner collect: {}\n", r.error().ToString());
      return 1;
    }
  }
  if (auto r = (*sink)->Finish(); !r) {
    fmt::print(stderr, "coroner collect: {}\n", r.error().ToString());
    return 1;
  }
  return 0;
}

int DumpDmesg(const Args& a) {
  if (a.files.size() != 2) return Usage("--dump-dmesg takes the dump and the output file");
  auto dump = OpenDump({a.files[0]});
  if (!dump) {
    fmt::print(stderr, "coroner collect: {}\n", dump.error().ToString());
    return 1;
  }
  if (!(*dump)->info.vmcoreinfo) {
    fmt::print(stderr, "coroner collect: {}: no VMCOREINFO, so no kernel log\n", a.files[0]);
    return 1;
  }
  const Vmcoreinfo& vi = *(*dump)->info.vmcoreinfo;
  auto km = KernelMemory::Create(*(*dump)->memory, vi);
  if (!km) {
    fmt::print(stderr, "coroner collect: {}\n", km.error().ToString());
    return 1;
  }
  auto log = ReadPrintkLog(**km, vi);
  if (!log) {
    fmt::print(stderr, "coroner collect: {}\n", log.error().ToString());
    return 1;
  }
  std::string text;
  for (const auto& r : log->records) text += FormatDmesgRecord(r);
  auto sink = FileSink::Create(a.files[1]);
  if (!sink) {
    fmt::print(stderr, "coroner collect: {}\n", sink.error().ToString());
    return 1;
  }
  auto r = (*sink)->WriteAt(0, std::as_bytes(std::span(text)));
  if (r) r = (*sink)->Finish();
  if (!r) {
    fmt::print(stderr, "coroner collect: {}\n", r.error().ToString());
    return 1;
  }
  return 0;
}

std::string Size(uint64_t b);

int MemUsageMain(const Args& a) {
  if (a.files.size() != 1) return Usage("--mem-usage takes one input (/proc/kcore, or a dump)");
  auto dump = OpenDump({a.files[0]});
  if (!dump) {
    fmt::print(stderr, "coroner collect: {}\n", dump.error().ToString());
    return 1;
  }
  auto mu = MeasureMemUsage(**dump);
  if (!mu) {
    fmt::print(stderr, "coroner collect: {}\n", mu.error().ToString());
    return 1;
  }
  const PageFilterStats& f = mu->filter;
  const uint64_t kern = mu->KeptAt(kDumpLevelMax);
  // makedumpfile --mem-usage's table, then the sizes it leaves the reader to work out.
  fmt::print("\nTYPE\t\tPAGES\t\t\tEXCLUDABLE\tDESCRIPTION\n");
  fmt::print("----------------------------------------------------------------------\n");
  fmt::print("ZERO\t\t{:<16}\tyes\t\tPages filled with zero\n", mu->zero_pages);
  fmt::print("NON_PRI_CACHE\t{:<16}\tyes\t\tCache pages without private flag\n", f.Count(PageVerdict::kCache));
  fmt::print("PRI_CACHE\t{:<16}\tyes\t\tCache pages with private flag\n", f.Count(PageVerdict::kCachePrivate));
  fmt::print("USER\t\t{:<16}\tyes\t\tUser process pages\n", f.Count(PageVerdict::kUser));
  fmt::print("FREE\t\t{:<16}\tyes\t\tFree pages\n", f.Count(PageVerdict::kFree));
  fmt::print("KERN_DATA\t{:<16}\tno\t\tDumpable kernel data \n", kern);
  fmt::print("\npage size:\t\t{:<16}\n", mu->page_size);
  fmt::print("Total pages on system:\t{:<16}\n", mu->ram_pages);
  fmt::print("Total size on system:\t{:<16} Byte\n", mu->ram_pages * mu->page_size);
  fmt::print("\nDump size before compression, by dump level (kdump format):\n");
  for (int level : {0, 1, 17, 23, 31}) {
    const uint64_t kept = mu->KeptAt(level);
    fmt::print("  -d {:<2}  {:>10} pages  {:>10}\n", level, kept, Size(kept * mu->page_size));
  }
  return 0;
}

std::string Size(uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(b) / (1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1ull << 20));
  return fmt::format("{:.1f} KiB", static_cast<double>(b) / 1024);
}

void PrintSummary(const Args& a, const CollectOptions& o, const CollectStats& st,
                  const std::vector<std::string>& outputs) {
  const uint64_t ps = 4096;
  fmt::print(stderr, "\nDump level {}: {} of {} RAM pages kept ({:.1f} %)\n", o.dump_level, st.dumped_pages,
             st.ram_pages, st.ram_pages ? 100.0 * static_cast<double>(st.dumped_pages) / static_cast<double>(st.ram_pages) : 0.0);
  if (st.input_excluded) fmt::print(stderr, "  {:>10}  already excluded in the input\n", st.input_excluded);
  if (st.filtered) {
    for (size_t i = 0; i < kPageVerdictCount; ++i) {
      auto v = static_cast<PageVerdict>(i);
      if (!IsExcluded(v) || !st.filter.pages[i]) continue;
      fmt::print(stderr, "  {:>10}  excluded: {}\n", st.filter.pages[i], PageVerdictName(v));
    }
    if (uint64_t n = st.filter.Count(PageVerdict::kKernelImage)) {
      fmt::print(stderr, "  {:>10}  kept: kernel image pages the level would have dropped\n", n);
    }
    if (uint64_t n = st.filter.Count(PageVerdict::kNoStructPage)) {
      fmt::print(stderr, "  {:>10}  kept: struct page unreadable\n", n);
    }
    if (st.filter.zone_free_pages && (o.dump_level & kDumpLevelFree)) {
      fmt::print(stderr, "  free pages: {} found in struct pages, {} by the zones' counters\n",
                 st.filter.Count(PageVerdict::kFree), *st.filter.zone_free_pages);
    }
  }
  if (st.zero_pages) fmt::print(stderr, "  {:>10}  zero pages ({})\n", st.zero_pages, a.elf ? "left out" : "one shared descriptor");
  if (st.repeated_pages) {
    fmt::print(stderr, "  {:>10}  pages of one repeated byte (such as the 0xcc of freed init memory), stored once per byte\n",
               st.repeated_pages);
  }
  if (st.deflate_check_failures) {
    fmt::print(stderr,
               "warning: {} zlib pages did not inflate back to their bytes from coroner's page encoder and "
               "were compressed by libdeflate instead (the dump is correct; please report this)\n",
               st.deflate_check_failures);
  }
  if (st.priority_pages && !a.elf) {
    fmt::print(stderr, "  {:>10}  written first (kernel image, page tables, per-CPU areas, slab)\n", st.priority_pages);
  }
  if (st.missing_pages) fmt::print(stderr, "  {:>10}  missing (not written)\n", st.missing_pages);
  const double mb = static_cast<double>(st.ram_pages * ps) / (1 << 20);
  fmt::print(stderr, "Wrote {} to {} in {:.2f} s ({:.0f} MiB/s of RAM scanned){}\n", Size(st.bytes),
             fmt::join(outputs, ", "), st.seconds, st.seconds > 0 ? mb / st.seconds : 0.0,
             o.threads ? fmt::format(", {} threads", o.threads) : "");
}

// --triage-file: the pages sys, log, ps and bt need, written (and synced) before the dump. A
// failure is reported and the full dump goes on: the triage file is a head start, not the dump.
void WriteTriage(const Args& a, const Dump& dump) {
  auto sink = FileSink::Create(a.triage_file);
  if (!sink) {
    fmt::print(stderr, "coroner collect: triage file: {}\n", sink.error().ToString());
    return;
  }
  TriageOptions o;
  o.compression = a.triage_compression;
  auto st = WriteTriageFile(dump, o, std::move(*sink));
  if (!st) {
    fmt::print(stderr, "coroner collect: triage file {}: {}\n", a.triage_file, st.error().ToString());
    return;
  }
  // On disk before the long part starts: the capture kernel may be reset at any time.
  if (int fd = ::open(a.triage_file.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
  if (a.message_level & kMsgError) {
    for (const TriagePhase& p : st->phases) {
      if (!p.error.empty()) fmt::print(stderr, "triage: {}: {}\n", p.name, p.error);
    }
  }
  if (a.message_level & (kMsgCommon | kMsgReport)) {
    fmt::print(stderr, "Triage file {}: {} pages ({} of memory), {} ({}), analysis {:.2f} s, written in {:.2f} s\n",
               a.triage_file, st->pages, Size(st->pages * dump.memory->page_size()), Size(st->bytes),
               CompressionName(o.compression), st->analysis_seconds, st->write_seconds);
    std::vector<std::string> parts;
    for (const TriagePhase& p : st->phases) {
      if (p.new_pages) parts.push_back(fmt::format("{} {} ({})", p.name, p.new_pages, Size(p.bytes)));
    }
    fmt::print(stderr, "  pages first read by: {}\n", fmt::join(parts, ", "));
    if (st->btf_subset_bytes || st->symbol_subset_bytes || st->orc_subset_bytes) {
      fmt::print(stderr,
                 "  kept as notes, not their tables' pages: the types the analysis used ({}, a BTF subset), its "
                 "symbols ({}) and ORC entries ({})\n",
                 Size(st->btf_subset_bytes), Size(st->symbol_subset_bytes), Size(st->orc_subset_bytes));
    }
    if (!st->subset_problem.empty()) fmt::print(stderr, "  warning: {}\n", st->subset_problem);
  }
}

int RunCollect(const Args& a) {
  const size_t nout = a.flattened ? 0 : a.split ? a.files.size() - 1 : 1;
  if (a.files.size() < 1 + nout || (!a.split && a.files.size() != 1 + nout)) {
    return Usage(a.flattened ? "-F takes only the input (the dump goes to standard output)"
                             : "give the input dump and the output file");
  }
  if (a.split && nout < 2) return Usage("--split needs two or more output files");
  const std::string input = a.files[0];
  std::vector<std::string> outputs(a.files.begin() + 1, a.files.end());
  if (a.flattened) outputs = {"-"};
  for (const auto& out : outputs) {
    if (out == "-") {
      if (!a.flattened && !a.elf) return Usage("a kdump file cannot be written to a pipe; add -F");
      continue;
    }
    if (SameFile(out, input)) {
      fmt::print(stderr, "coroner collect: {}: is the input; refusing to overwrite it\n", out);
      return 1;
    }
    if (!a.force && Exists(out)) {
      fmt::print(stderr, "coroner collect: {}: exists; add -f to overwrite it\n", out);
      return 1;
    }
    if (out == a.triage_file || SameFile(out, a.triage_file)) {
      fmt::print(stderr, "coroner collect: {}: is both the triage file and an output\n", out);
      return 1;
    }
  }
  if (!a.triage_file.empty()) {
    if (a.triage_file == input || SameFile(a.triage_file, input)) {
      fmt::print(stderr, "coroner collect: {}: is the input; refusing to overwrite it\n", a.triage_file);
      return 1;
    }
    if (!a.force && Exists(a.triage_file)) {
      fmt::print(stderr, "coroner collect: {}: exists; add -f to overwrite it\n", a.triage_file);
      return 1;
    }
  }
  const bool tty = ::isatty(STDERR_FILENO);
  auto dump = OpenDump({input});
  if (!dump) {
    fmt::print(stderr, "coroner collect: {}\n", dump.error().ToString());
    return 1;
  }
  if (a.message_level & kMsgCommon) {
    for (const auto& w : (*dump)->diagnostics.warnings()) fmt::print(stderr, "warning: {}\n", w.message);
  }
  if (!a.triage_file.empty()) WriteTriage(a, **dump);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  for (size_t li = 0; li < a.levels.size(); ++li) {
    CollectOptions o;
    o.dump_level = a.levels[li];
    o.compression = a.compression;
    o.elf = a.elf;
    o.threads = a.threads;
    o.cancel = &g_interrupted;
    auto last = std::chrono::steady_clock::now();
    const auto start = last;
    if (tty && (a.message_level & kMsgProgress)) {
      o.progress = [&](uint64_t done, uint64_t total) {
        auto now = std::chrono::steady_clock::now();
        if (done < total && now - last < std::chrono::milliseconds(200)) return;
        last = now;
        const double pct = total ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0;
        const double el = std::chrono::duration<double>(now - start).count();
        const double eta = done ? el * static_cast<double>(total - done) / static_cast<double>(done) : 0;
        fmt::print(stderr, "\rCopying data                       : [{:5.1f} %] eta: {:.0f}s   ", pct, eta);
        if (done >= total) fmt::print(stderr, "\n");
      };
    }
    std::vector<std::unique_ptr<ByteSink>> sinks;
    for (const auto& out : outputs) {
      auto f = FileSink::Create(out);
      if (!f) {
        fmt::print(stderr, "coroner collect: {}\n", f.error().ToString());
        return 1;
      }
      std::unique_ptr<ByteSink> s = std::move(*f);
      if (a.flattened) s = std::make_unique<FlattenedSink>(std::move(s));
      sinks.push_back(std::move(s));
    }
    auto st = Collect(**dump, o, std::move(sinks));
    if (!st) {
      fmt::print(stderr, "coroner collect: {}\n", st.error().ToString());
      return 1;
    }
    if (a.message_level & kMsgCommon) {
      for (const auto& w : st->filter.warnings) fmt::print(stderr, "warning: {}\n", w);
    }
    if (a.message_level & kMsgError) {
      for (const auto& e : st->errors) fmt::print(stderr, "read error: {}\n", e);
      if (st->read_errors > st->errors.size()) fmt::print(stderr, "... {} read errors in all\n", st->read_errors);
    }
    if (a.message_level & (kMsgCommon | kMsgReport)) PrintSummary(a, o, *st, outputs);
    // A full disk with a further level to fall back on: try it.
    const bool nospace = std::any_of(st->incomplete_reasons.begin(), st->incomplete_reasons.end(),
                                     [](const std::string& r) { return r.find("No space left") != std::string::npos; });
    if (nospace && li + 1 < a.levels.size() && !a.flattened) {
      if (a.message_level & kMsgCommon) {
        fmt::print(stderr, "The output does not fit at level {}; trying level {}\n", a.levels[li], a.levels[li + 1]);
      }
      continue;
    }
    if (st->incomplete) {
      if (a.message_level & kMsgError) {
        for (const auto& r : st->incomplete_reasons) fmt::print(stderr, "incomplete: {}\n", r);
        fmt::print(stderr, "The dump is marked incomplete; it opens with what was written.\n");
      }
      const bool read_only = st->missing_pages > 0 && st->missing_pages == st->read_errors && !g_interrupted &&
                             !nospace;
      return read_only ? 2 : 1;
    }
    return 0;
  }
  return 1;
}

}  // namespace

int CollectMain(int argc, char** argv) {
  Args a;
  if (int rc = Parse(argc, argv, a); rc >= 0) return rc;
  if (a.reassemble) return Reassemble(a);
  if (a.dmesg) return DumpDmesg(a);
  if (a.mem_usage) return MemUsageMain(a);
  return RunCollect(a);
}

}  // namespace coroner
