// coroner-kdump-write: rewrites any dump coroner can open (ELF vmcore, kdump-compressed,
// flattened, a split set) as a kdump-compressed file, the way makedumpfile writes one, or as an
// ELF vmcore. A developer tool for now: the test-dump pipeline uses it to make snappy and zstd
// kdump files from real ELF vmcores (Debian's makedumpfile is built without either).
//
//   coroner-kdump-write -z vmcore vmcore.kdump-zstd
//   coroner-kdump-write -c -F vmcore - > vmcore.flat          (flattened, to a pipe)
//   coroner-kdump-write -p --split 3 vmcore out.1 out.2 out.3
//   coroner-kdump-write -E dump.kdump vmcore.elf
//
// Exit status: 0 written; 2 written but some pages could not be read (the output is marked
// incomplete and those pages are missing from it); 1 nothing usable written.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "lib/dump/byte_sink.h"
#include "lib/dump/dump.h"
#include "lib/dump/dump_description.h"
#include "lib/dump/elf_writer.h"
#include "lib/dump/kdump_writer.h"

namespace coroner {
namespace {

constexpr std::string_view kUsage =
    "usage: coroner-kdump-write [-c|-l|-p|-z] [-F] [-E] [--split N] [--share-zero-pages] [-q]\n"
    "                           IN... OUT...\n"
    "\n"
    "Rewrites the dump IN (several files: a split set) as a kdump-compressed file OUT.\n"
    "  -c, -l, -p, -z      compress pages with zlib, lzo, snappy or zstd (default: none),\n"
    "                      each page on its own and stored raw when it does not shrink\n"
    "  -F                  write makedumpfile's flattened format (OUT may be - for stdout)\n"
    "  -E                  write an ELF vmcore instead\n"
    "  --split N           write a split set of N files: the last N arguments are outputs\n"
    "  --share-zero-pages  all-zero pages share one descriptor (makedumpfile -d 1)\n"
    "  -q                  print nothing but errors\n";

struct Args {
  Compression compression = Compression::kNone;
  bool flattened = false;
  bool elf = false;
  bool share_zero = false;
  bool quiet = false;
  size_t split = 0;
  std::vector<std::string> inputs, outputs;
};

int Usage(const std::string& why) {
  if (!why.empty()) fmt::print(stderr, "coroner-kdump-write: {}\n", why);
  fmt::print(stderr, "{}", kUsage);
  return 1;
}

// Parses argv; returns an exit status to stop with, or -1 to go on.
int Parse(int argc, char** argv, Args& a) {
  std::vector<std::string> files;
  int methods = 0;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view s = argv[i];
    if (options_done || s == "-" || s.empty() || s[0] != '-') {
      files.emplace_back(s);
    } else if (s == "--") {
      options_done = true;
    } else if (s == "-c") {
      a.compression = Compression::kZlib;
      ++methods;
    } else if (s == "-l") {
      a.compression = Compression::kLzo;
      ++methods;
    } else if (s == "-p") {
      a.compression = Compression::kSnappy;
      ++methods;
    } else if (s == "-z") {
      a.compression = Compression::kZstd;
      ++methods;
    } else if (s == "-F") {
      a.flattened = true;
    } else if (s == "-E") {
      a.elf = true;
    } else if (s == "-q") {
      a.quiet = true;
    } else if (s == "--share-zero-pages") {
      a.share_zero = true;
    } else if (s == "--split" || s.rfind("--split=", 0) == 0) {
      std::string n;
      if (s == "--split") {
        if (++i >= argc) return Usage("--split needs a number");
        n = argv[i];
      } else {
        n = std::string(s.substr(8));
      }
      char* end = nullptr;
      unsigned long v = std::strtoul(n.c_str(), &end, 10);
      if (n.empty() || *end || v < 2 || v > 256) return Usage("--split takes a number from 2 to 256");
      a.split = v;
    } else if (s == "-h" || s == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else {
      return Usage(fmt::format("unknown option {}", s));
    }
  }
  if (methods > 1) return Usage("give at most one of -c, -l, -p, -z");
  if (a.elf && (a.split || methods || a.share_zero)) {
    return Usage("-E takes no compression, --split or --share-zero-pages");
  }
  const size_t nout = a.split ? a.split : 1;
  if (files.size() < nout + 1) return Usage("give the input dump file(s) and the output file(s)");
  a.inputs.assign(files.begin(), files.end() - static_cast<ptrdiff_t>(nout));
  a.outputs.assign(files.end() - static_cast<ptrdiff_t>(nout), files.end());
  if (a.split && std::count(a.outputs.begin(), a.outputs.end(), "-") > 0) {
    return Usage("the files of a split set cannot go to standard output");
  }
  return -1;
}

// True if `out` names the same file as one of the inputs.
bool SameFileAsInput(const std::string& out, const std::vector<std::string>& inputs) {
  struct stat so;
  if (out == "-" || ::stat(out.c_str(), &so) != 0) return false;
  for (const auto& in : inputs) {
    struct stat si;
    if (::stat(in.c_str(), &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) return true;
  }
  return false;
}

void RemoveOutputs(const std::vector<std::string>& outputs) {
  for (const auto& o : outputs) {
    if (o != "-") ::unlink(o.c_str());
  }
}

int Run(const Args& a) {
  for (const auto& out : a.outputs) {
    if (SameFileAsInput(out, a.inputs)) {
      fmt::print(stderr, "coroner-kdump-write: {}: is also an input; refusing to overwrite it\n", out);
      return 1;
    }
    if (out == "-" && !a.flattened && !a.elf) {
      fmt::print(stderr, "coroner-kdump-write: a kdump file cannot be written to a pipe; add -F\n");
      return 1;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto opened = OpenDump(a.inputs);
  if (!opened) {
    fmt::print(stderr, "coroner-kdump-write: {}\n", opened.error().ToString());
    return 1;
  }
  const Dump& dump = **opened;
  if (!a.quiet) {
    for (const auto& w : dump.diagnostics.warnings()) {
      fmt::print(stderr, "warning: {}{}\n", w.message, w.count > 1 ? fmt::format(" (x{})", w.count) : "");
    }
    for (const auto& why : dump.info.incomplete_reasons) fmt::print(stderr, "input incomplete: {}\n", why);
  }
  DumpDescription desc = DescribeDump(dump);

  std::vector<std::unique_ptr<ByteSink>> sinks;
  for (const auto& out : a.outputs) {
    auto file = FileSink::Create(out);
    if (!file) {
      fmt::print(stderr, "coroner-kdump-write: {}\n", file.error().ToString());
      RemoveOutputs(std::vector<std::string>(a.outputs.begin(), a.outputs.begin() +
                                                                     static_cast<ptrdiff_t>(sinks.size())));
      return 1;
    }
    std::unique_ptr<ByteSink> sink = std::move(*file);
    if (a.flattened) sink = std::make_unique<FlattenedSink>(std::move(sink));
    sinks.push_back(std::move(sink));
  }

  uint64_t read_errors = 0;
  std::vector<std::string> errors;
  std::string summary;
  if (a.elf) {
    auto st = WriteElfVmcore(*dump.memory, desc, {}, std::move(sinks[0]));
    if (!st) {
      fmt::print(stderr, "coroner-kdump-write: {}\n", st.error().ToString());
      RemoveOutputs(a.outputs);
      return 1;
    }
    read_errors = st->read_errors;
    errors = st->errors;
    summary = fmt::format("{}: ELF vmcore, {} PT_LOAD, {} pages dumped, {} excluded{}, {} bytes",
                          a.outputs[0], st->load_segments, st->dumped_pages, st->excluded_pages,
                          st->missing_pages ? fmt::format(" ({} missing)", st->missing_pages) : "",
                          st->bytes);
  } else {
    KdumpWriterOptions opts;
    opts.compression = a.compression;
    opts.share_zero_pages = a.share_zero;
    auto st = WriteKdump(*dump.memory, desc, opts, std::move(sinks));
    if (!st) {
      fmt::print(stderr, "coroner-kdump-write: {}\n", st.error().ToString());
      RemoveOutputs(a.outputs);
      return 1;
    }
    read_errors = st->read_errors;
    errors = st->errors;
    for (size_t i = 0; i < st->files.size(); ++i) {
      const KdumpFileStats& f = st->files[i];
      summary += fmt::format(
          "{}{}: kdump-compressed ({}{}), pfns {:#x}-{:#x}: {} pages ({} compressed, {} zero, {} "
          "missing), {} bytes",
          i ? "\n" : "", a.outputs[i], CompressionName(a.compression), a.flattened ? ", flattened" : "",
          st->ranges[i].start, st->ranges[i].start + st->ranges[i].count, f.data_pages + f.zero_pages,
          f.compressed_pages, f.zero_pages, f.missing_pages, f.bytes);
    }
    summary += fmt::format("\n{} pages dumped, {} excluded{}", st->dumped_pages, st->excluded_pages,
                           st->incomplete ? "; marked incomplete" : "");
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& e : errors) fmt::print(stderr, "read error: {}\n", e);
  if (read_errors > errors.size()) {
    fmt::print(stderr, "... {} read errors in all\n", read_errors);
  }
  if (!a.quiet) fmt::print(stderr, "{}\n({:.2f} s)\n", summary, secs);
  return read_errors ? 2 : 0;
}

}  // namespace
}  // namespace coroner

int main(int argc, char** argv) {
  coroner::Args args;
  if (int rc = coroner::Parse(argc, argv, args); rc >= 0) return rc;
  return coroner::Run(args);
}
