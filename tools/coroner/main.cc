// coroner: the command-line front-end. Thin: parses arguments, opens a Session, and feeds
// command lines to lib/render's ExecuteCommand, from -c, -i, standard input, or an interactive
// prompt with line editing, history and completion. An Error becomes one line on stderr.
//
//   coroner info [--json] DUMP...          what the dump file says about itself
//   coroner collect [makedumpfile flags] IN OUT   the collector (collect_main.cc)
//   coroner debuginfo fetch DUMP            download the matching vmlinux (debuginfo_main.cc)
//   coroner [--json] [--minimal] [-c 'cmd; cmd'] [-i FILE] DUMP... [VMLINUX]
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <editline/readline.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "lib/base/byte_source.h"
#include "lib/commands/info.h"
#include "lib/commands/session.h"
#include "lib/dump/dump.h"
#include "lib/render/dispatch.h"
#include "lib/render/info_render.h"

namespace coroner {
int CollectMain(int argc, char** argv);    // collect_main.cc
int DebuginfoMain(int argc, char** argv);  // debuginfo_main.cc
}  // namespace coroner

namespace {

int Fail(const coroner::Error& e) {
  fmt::print(stderr, "coroner: {}\n", e.ToString());
  return 1;
}

int RunInfo(const std::vector<std::string>& files, bool json) {
  auto dump = coroner::OpenDump(files);
  if (!dump) return Fail(dump.error());
  coroner::InfoResult info = coroner::CollectInfo(**dump);
  if (json) {
    std::cout << coroner::RenderInfoJson(info).dump(2) << "\n";
  } else {
    std::cout << coroner::RenderInfoText(info);
  }
  return 0;
}

// True if `path` is an ELF executable (a vmlinux) rather than a core file.
bool IsVmlinux(const std::string& path) {
  auto f = coroner::FileSource::Open(path);
  if (!f) return false;
  std::array<std::byte, 18> h{};
  if (!(*f)->ReadExact(0, h)) return false;
  return std::memcmp(h.data(), "\x7f" "ELF", 4) == 0 && h[16] == std::byte{2};  // ET_EXEC
}

// Splits "cmd args | shell" / "cmd args > file" / ">> file" at the first unquoted | or >.
struct Redirect {
  std::string command;
  std::string pipe_to;
  std::string file;
  bool append = false;
};
Redirect ParseRedirect(const std::string& line) {
  Redirect r;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') quote = c;
    if (c == '|') {
      r.command = line.substr(0, i);
      r.pipe_to = line.substr(i + 1);
      return r;
    }
    if (c == '>' && i > 0 && line[i - 1] == '-') continue;  // "->" in an expression
    if (c == '>') {
      r.command = line.substr(0, i);
      r.append = i + 1 < line.size() && line[i + 1] == '>';
      r.file = line.substr(i + (r.append ? 2 : 1));
      while (!r.file.empty() && r.file.front() == ' ') r.file.erase(0, 1);
      while (!r.file.empty() && r.file.back() == ' ') r.file.pop_back();
      return r;
    }
  }
  r.command = line;
  return r;
}

// Runs one line; returns false if the command failed.
bool RunLine(const coroner::Session& session, const std::string& line, bool json) {
  Redirect rd = ParseRedirect(line);
  auto out = coroner::ExecuteCommand(session, rd.command, json);
  if (!out) {
    fmt::print(stderr, "{}\n", out.error().ToString());
    return false;
  }
  if (!rd.pipe_to.empty()) {
    std::fflush(stdout);
    FILE* p = ::popen(rd.pipe_to.c_str(), "w");
    if (!p) {
      fmt::print(stderr, "cannot run: {}\n", rd.pipe_to);
      return false;
    }
    std::fwrite(out->data(), 1, out->size(), p);
    ::pclose(p);
  } else if (!rd.file.empty()) {
    std::ofstream f(rd.file, rd.append ? std::ios::app : std::ios::trunc);
    if (!f) {
      fmt::print(stderr, "cannot write {}\n", rd.file);
      return false;
    }
    f << *out;
  } else {
    std::fwrite(out->data(), 1, out->size(), stdout);
    std::fflush(stdout);
  }
  return true;
}

std::vector<std::string> SplitCommands(const std::string& s) {
  std::vector<std::string> cmds;
  std::string cur;
  for (char c : s) {
    if (c == ';' || c == '\n') {
      cmds.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  cmds.push_back(cur);
  return cmds;
}

char* CompleteCommand(const char* text, int state) {
  static std::vector<std::string> matches;
  static size_t index;
  if (state == 0) {
    matches.clear();
    index = 0;
    for (const auto& n : coroner::CommandNames()) {
      if (n.rfind(text, 0) == 0) matches.push_back(n);
    }
  }
  if (index < matches.size()) return strdup(matches[index++].c_str());
  return nullptr;
}

char** Complete(const char* text, int start, int) {
  rl_attempted_completion_over = 1;
  if (start != 0) return nullptr;  // symbols come with the symbol table
  return rl_completion_matches(text, CompleteCommand);
}

int Interactive(const coroner::Session& session, bool json) {
  const auto& info = session.dump().info;
  fmt::print("coroner 0.1.0\n\n      DUMPFILE: {}{}\n        FORMAT: {}\n", fmt::join(info.files, " "),
             info.incomplete ? "  [INCOMPLETE]" : "", info.format);
  if (info.vmcoreinfo && info.vmcoreinfo->osrelease) fmt::print("       RELEASE: {}\n", *info.vmcoreinfo->osrelease);
  if (session.kernel_memory()) {
    fmt::print("  KERNEL SPACE: from the dump alone (VMCOREINFO page tables, {}-level paging)\n",
               session.kernel_memory()->five_level() ? 5 : 4);
  } else {
    fmt::print("  KERNEL SPACE: unavailable: {}\n", session.kernel_memory_error());
  }
  if (!session.vmlinux().empty()) {
    fmt::print("       VMLINUX: {} (banner matches the dump)\n", session.vmlinux());
    fmt::print("       SYMBOLS: its ELF symbol table, KASLR offset {:#x}\n", session.kaslr_offset());
    fmt::print("         TYPES: {}\n\n", session.dwarf() ? "its DWARF (also globals' types and line numbers)"
                                                         : "the dump's BTF (the vmlinux has no DWARF; no line numbers)");
  } else {
    fmt::print("       VMLINUX: none: symbols from kallsyms and types from BTF in the dump; no line numbers\n\n");
  }
  rl_attempted_completion_function = Complete;
  std::string history = std::string(getenv("HOME") ? getenv("HOME") : ".") + "/.coroner_history";
  read_history(history.c_str());
  while (char* raw = readline("coroner> ")) {
    std::string line = raw;
    free(raw);
    if (line == "q" || line == "quit" || line == "exit") break;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    add_history(line.c_str());
    RunLine(session, line, json);
  }
  write_history(history.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "collect") return coroner::CollectMain(argc - 2, argv + 2);
  if (argc >= 2 && std::string(argv[1]) == "debuginfo") return coroner::DebuginfoMain(argc - 1, argv + 1);
  if (argc >= 2 && std::string(argv[1]) == "info") {
    CLI::App app{"coroner info: what a dump file says about itself (format, headers, page counts, "
                 "CPU registers, VMCOREINFO)"};
    std::vector<std::string> files;
    bool json = false;
    app.add_option("dump", files, "Dump file(s); several files form a split set")->required();
    app.add_flag("--json", json, "Print JSON instead of text");
    try {
      app.parse(argc - 1, argv + 1);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    return RunInfo(files, json);
  }

  CLI::App app{"coroner: Linux kernel crash dump analysis.\n"
               "  coroner info [--json] DUMP...        what the dump file says about itself\n"
               "  coroner collect [makedumpfile flags] IN OUT   write a filtered, compressed dump\n"
               "  coroner debuginfo fetch DUMP          download the matching vmlinux (debuginfod, apt)\n"
               "  coroner [options] DUMP... [VMLINUX]  a prompt (or batch run) of crash-style commands"};
  app.set_version_flag("--version", "coroner 0.1.0");
  std::vector<std::string> files;
  std::string commands, input_file;
  std::vector<std::string> debuginfo_dirs;
  bool json = false, no_vmlinux = false;
  app.add_option("files", files, "Dump file(s) (several = a split set), optionally a vmlinux")->required();
  app.add_option("-c,--commands", commands, "Run these commands (separated by ';') and exit");
  app.add_option("-i,--input", input_file, "Run the commands in FILE and exit");
  app.add_flag("--json", json, "Print each command's result as JSON");
  bool minimal = false;
  app.add_flag("--minimal", minimal,
               "Only the commands that need no task or memory-management walks (log, rd, sym, "
               "vtop, struct, p, ...), for a dump too damaged for more");
  app.add_option("--debuginfo-dir", debuginfo_dirs,
                 "Look for the vmlinux here (DIR/vmlinux-RELEASE, DIR/RELEASE/vmlinux, ...) before "
                 "/usr/lib/debug and /boot");
  app.add_flag("--no-vmlinux", no_vmlinux, "Use the dump alone (kallsyms, BTF), even if a vmlinux is found");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  std::vector<std::string> dumps;
  std::string vmlinux;
  for (const auto& f : files) {
    if (IsVmlinux(f)) vmlinux = f; else dumps.push_back(f);
  }
  if (dumps.empty()) {
    fmt::print(stderr, "coroner: no dump file given (only a vmlinux)\n");
    return 2;
  }
  coroner::SessionOptions options;
  options.vmlinux = no_vmlinux ? std::string() : vmlinux;
  options.debuginfo_dirs = debuginfo_dirs;
  options.find_vmlinux = !no_vmlinux;
  // DWARF name indexes: $CORONER_INDEX_DIR (empty: none), else the user's cache directory.
  if (const char* dir = getenv("CORONER_INDEX_DIR")) {
    options.index_dir = dir;
  } else if (const char* xdg = getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    options.index_dir = std::string(xdg) + "/coroner/dwarf-index";
  } else if (const char* home = getenv("HOME"); home && *home) {
    options.index_dir = std::string(home) + "/.cache/coroner/dwarf-index";
  }
  auto session = coroner::Session::Open(dumps, options);
  if (!session) return Fail(session.error());
  (*session)->set_minimal(minimal);
  for (const auto& note : (*session)->notes()) fmt::print(stderr, "coroner: {}\n", note);

  std::vector<std::string> lines;
  if (!commands.empty()) {
    lines = SplitCommands(commands);
  } else if (!input_file.empty()) {
    std::ifstream in(input_file);
    if (!in) {
      fmt::print(stderr, "coroner: cannot read {}\n", input_file);
      return 2;
    }
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  } else if (!isatty(STDIN_FILENO)) {
    for (std::string l; std::getline(std::cin, l);) lines.push_back(l);
  } else {
    return Interactive(**session, json);
  }
  bool ok = true;
  for (const auto& l : lines) {
    if (l.find_first_not_of(" \t") == std::string::npos) continue;
    ok = RunLine(**session, l, json) && ok;
  }
  return ok ? 0 : 1;
}
