// `coroner debuginfo fetch DUMP...`: gets the vmlinux (and the loaded modules' debug files) that
// match a dump, so later sessions find them with no option.
//
//   1. The dump says which kernel it is: its release (VMCOREINFO), linux_banner and the kernel
//      image's build ID (both read from kernel memory).
//   2. Already there (DEST/RELEASE/vmlinux with the same banner)? Done.
//   3. debuginfod, when DEBUGINFOD_URLS is set: the vmlinux by build ID (libdebuginfod, with its
//      progress reports).
//   4. Else the distribution's debug package through apt: Debian's linux-image-RELEASE-dbg, or
//      Ubuntu's linux-image-unsigned-RELEASE-dbgsym / linux-image-RELEASE-dbgsym, at the version
//      the banner names ("Debian 6.1.192-2"), then any version. apt-get shows its own download
//      progress; dpkg-deb and tar extract the vmlinux and the debug .ko of every loaded module.
//   5. The result is opened as a session would open it: a vmlinux whose banner differs from the
//      dump's is removed again and the command fails, naming both banners.
//
// DEST is --dest, else $XDG_CACHE_HOME/coroner/debuginfo (~/.cache/coroner/debuginfo), one of
// the places a session looks in (Session::VmlinuxCandidates).
#include <dlfcn.h>
#include <elfutils/debuginfod.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "lib/commands/session.h"

namespace coroner {
namespace {

namespace fs = std::filesystem;

// Runs a program (no shell); its stdout goes to `out_fd` if not -1, stdin comes from `in_fd`.
pid_t Spawn(const std::vector<std::string>& argv, const fs::path& cwd, int in_fd, int out_fd, int close_fd,
            bool quiet = false) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
  if (in_fd >= 0) dup2(in_fd, 0);
  if (out_fd >= 0) dup2(out_fd, 1);
  if (quiet) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 2);
  }
  if (close_fd >= 0) close(close_fd);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  _exit(127);
}

int Wait(pid_t pid) {
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int Run(const std::vector<std::string>& argv, const fs::path& cwd = {}) {
  return Wait(Spawn(argv, cwd, -1, -1, -1));
}

// dpkg-deb --fsys-tarfile DEB | tar -x -C DIR --wildcards PATTERNS...
bool ExtractFromDeb(const fs::path& deb, const fs::path& dir, const std::vector<std::string>& patterns) {
  int p[2];
  if (pipe(p) != 0) return false;
  pid_t a = Spawn({"dpkg-deb", "--fsys-tarfile", deb.string()}, {}, -1, p[1], p[0]);
  std::vector<std::string> tar = {"tar", "-x", "-C", dir.string(), "--wildcards", "--no-anchored"};
  tar.insert(tar.end(), patterns.begin(), patterns.end());
  pid_t b = Spawn(tar, {}, p[0], -1, p[1], /*quiet=*/true);  // "Not found" for each missing .ko
  close(p[0]);
  close(p[1]);
  int ra = Wait(a), rb = Wait(b);
  // tar exits 2 when a pattern matched nothing (a module without a debug file): not fatal here.
  return ra == 0 && (rb == 0 || rb == 2);
}

fs::path DefaultDest() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "coroner/debuginfo";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache/coroner/debuginfo";
  return "/var/cache/coroner/debuginfo";
}

// The package version a distribution banner names: "... (Debian 6.1.192-2) ..." or
// "... #101-Ubuntu ... (Ubuntu 5.15.0-91.101-generic 5.15.131)".
// The compiler's "(Debian 12.2.0-14)" comes first in the banner, so the last "Debian X" is the
// kernel's: "... #1 SMP Debian 6.1.192-2 (2026-11-16)". Ubuntu: "(Ubuntu 5.15.0-91.101-generic
// 5.15.131)" -> 5.15.0-91.101.
std::string BannerVersion(const std::string& banner) {
  auto token_after = [&](std::string_view word) -> std::string {
    std::string last;
    for (size_t at = banner.find(word); at != std::string::npos; at = banner.find(word, at + 1)) {
      size_t start = at + word.size();
      if (start >= banner.size() || !std::isdigit(static_cast<unsigned char>(banner[start]))) continue;
      size_t end = banner.find_first_of(" )", start);
      last = banner.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    return last;
  };
  if (std::string v = token_after("Debian "); !v.empty()) return v;
  std::string v = token_after("Ubuntu ");
  size_t first = v.find('-');
  size_t second = first == std::string::npos ? std::string::npos : v.find('-', first + 1);
  return second == std::string::npos ? v : v.substr(0, second);
}

// True when `vmlinux` opens as this dump's kernel (banner check); else prints why.
bool Matches(const std::vector<std::string>& dump, const fs::path& vmlinux) {
  SessionOptions o;
  o.vmlinux = vmlinux.string();
  auto s = Session::Open(dump, o);
  if (!s) return false;
  if ((*s)->vmlinux() == vmlinux.string()) return true;
  for (const std::string& n : (*s)->notes()) fmt::print(stderr, "coroner debuginfo: {}\n", n);
  return false;
}

int DebuginfodProgress(debuginfod_client*, long a, long b) {
  if (isatty(2)) {
    if (b > 0) {
      fmt::print(stderr, "\rdebuginfod: {:5.1f}% of {} MB", 100.0 * static_cast<double>(a) / static_cast<double>(b), b >> 20);
    } else {
      fmt::print(stderr, "\rdebuginfod: {} MB", a >> 20);
    }
  }
  return 0;
}

// libdebuginfod, loaded when first needed: linked in, it and what it pulls in (libcurl,
// GnuTLS, Kerberos: 30 libraries) cost every coroner process about 7 ms of start-up, a tenth of
// a `coroner collect -d 31` run on a 768 MB guest.
struct DebuginfodApi {
  decltype(&debuginfod_begin) begin = nullptr;
  decltype(&debuginfod_set_progressfn) set_progressfn = nullptr;
  decltype(&debuginfod_find_debuginfo) find_debuginfo = nullptr;
  decltype(&debuginfod_end) end = nullptr;
};

const DebuginfodApi* LoadDebuginfod() {
  static const DebuginfodApi* api = []() -> const DebuginfodApi* {
    void* h = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fmt::print(stderr, "coroner debuginfo: cannot load libdebuginfod: {}\n", dlerror());
      return nullptr;
    }
    static DebuginfodApi a;
    a.begin = reinterpret_cast<decltype(a.begin)>(dlsym(h, "debuginfod_begin"));
    a.set_progressfn = reinterpret_cast<decltype(a.set_progressfn)>(dlsym(h, "debuginfod_set_progressfn"));
    a.find_debuginfo = reinterpret_cast<decltype(a.find_debuginfo)>(dlsym(h, "debuginfod_find_debuginfo"));
    a.end = reinterpret_cast<decltype(a.end)>(dlsym(h, "debuginfod_end"));
    if (!a.begin || !a.set_progressfn || !a.find_debuginfo || !a.end) {
      fmt::print(stderr, "coroner debuginfo: libdebuginfod.so.1 lacks the functions it should have\n");
      return nullptr;
    }
    return &a;
  }();
  return api;
}

// The vmlinux by build ID from the debuginfod servers in DEBUGINFOD_URLS, copied to `target`.
bool FetchDebuginfod(const std::string& build_id, const fs::path& target) {
  const DebuginfodApi* api = LoadDebuginfod();
  if (!api) return false;
  debuginfod_client* c = api->begin();
  if (!c) return false;
  api->set_progressfn(c, DebuginfodProgress);
  std::vector<unsigned char> id;
  for (size_t i = 0; i + 1 < build_id.size(); i += 2) id.push_back(static_cast<unsigned char>(std::stoi(build_id.substr(i, 2), nullptr, 16)));
  char* path = nullptr;
  int fd = api->find_debuginfo(c, id.data(), static_cast<int>(id.size()), &path);
  if (isatty(2)) fmt::print(stderr, "\n");
  api->end(c);
  if (fd < 0) {
    fmt::print(stderr, "coroner debuginfo: debuginfod has no debuginfo for build ID {}: {}\n", build_id, std::strerror(-fd));
    return false;
  }
  close(fd);
  std::error_code ec;
  fs::copy_file(path, target, fs::copy_options::overwrite_existing, ec);
  fmt::print("debuginfod: {} -> {}\n", path, target.string());
  free(path);
  return !ec;
}

// The debug package through apt; extracts the vmlinux and the loaded modules' .ko files.
bool FetchApt(const std::string& release, const std::string& version, const std::vector<std::string>& modules,
              const fs::path& dir) {
  fs::path work = dir / ".download";
  fs::remove_all(work);
  fs::create_directories(work);
  std::vector<std::string> packages = {"linux-image-" + release + "-dbg", "linux-image-unsigned-" + release + "-dbgsym",
                                       "linux-image-" + release + "-dbgsym"};
  fs::path deb;
  for (const std::string& p : packages) {
    int null = open("/dev/null", O_WRONLY);
    pid_t show = Spawn({"apt-cache", "show", "-q", "--no-all-versions", p}, work, -1, null, -1, /*quiet=*/true);
    if (null >= 0) close(null);
    if (Wait(show) != 0) continue;  // not in this system's apt sources
    for (const std::string& spec : {version.empty() ? std::string() : p + "=" + version, p}) {
      if (spec.empty()) continue;
      fmt::print("apt-get download {}\n", spec);
      std::fflush(stdout);
      if (Run({"apt-get", "download", "-q", spec}, work) == 0) {
        for (const auto& e : fs::directory_iterator(work)) {
          if (e.path().extension() == ".deb") deb = e.path();
        }
      }
      if (!deb.empty()) break;
    }
    if (!deb.empty()) break;
  }
  if (deb.empty()) {
    fmt::print(stderr, "coroner debuginfo: no debug package for {} through apt (tried {})\n", release,
               fmt::join(packages, ", "));
    fs::remove_all(work);
    return false;
  }
  fmt::print("extracting the vmlinux{} from {}\n", modules.empty() ? "" : " and the loaded modules", deb.filename().string());
  std::fflush(stdout);
  std::vector<std::string> patterns = {"usr/lib/debug/boot/vmlinux-" + release};
  for (const std::string& m : modules) {
    patterns.push_back("usr/lib/debug/lib/modules/" + release + "/*/" + m + ".ko");
    std::string dashed = m;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    if (dashed != m) patterns.push_back("usr/lib/debug/lib/modules/" + release + "/*/" + dashed + ".ko");
  }
  fs::path tree = work / "tree";
  fs::create_directories(tree);
  if (!ExtractFromDeb(deb, tree, patterns)) {
    fmt::print(stderr, "coroner debuginfo: extracting {} failed\n", deb.string());
    fs::remove_all(work);
    return false;
  }
  fs::path vmlinux = tree / "usr/lib/debug/boot" / ("vmlinux-" + release);
  if (!fs::exists(vmlinux)) {
    fmt::print(stderr, "coroner debuginfo: {} has no usr/lib/debug/boot/vmlinux-{}\n", deb.filename().string(), release);
    fs::remove_all(work);
    return false;
  }
  fs::rename(vmlinux, dir / "vmlinux");
  fs::path mods = tree / "usr/lib/debug/lib/modules" / release;
  if (fs::exists(mods)) {
    fs::create_directories(dir / "modules");
    for (const auto& e : fs::recursive_directory_iterator(mods)) {
      if (e.path().extension() == ".ko") fs::rename(e.path(), dir / "modules" / e.path().filename());
    }
  }
  fs::remove_all(work);
  return true;
}

int Fetch(const std::vector<std::string>& dump, fs::path dest, bool use_apt) {
  auto s = Session::Open(dump);
  if (!s) {
    fmt::print(stderr, "coroner debuginfo: {}\n", s.error().ToString());
    return 1;
  }
  const auto& vi = (*s)->dump().info.vmcoreinfo;
  if (!vi || !vi->osrelease) {
    fmt::print(stderr, "coroner debuginfo: the dump has no VMCOREINFO OSRELEASE: which kernel it is is unknown\n");
    return 1;
  }
  const std::string release = *vi->osrelease;
  auto banner = (*s)->DumpBanner();
  auto build_id = (*s)->KernelBuildId();
  std::vector<std::string> modules;
  if (auto mods = (*s)->Modules()) {
    for (const ModuleInfo& m : **mods) modules.push_back(m.name);
  }
  fmt::print("kernel: {}\n", release);
  fmt::print("banner: {}\n", banner ? *banner : "(unreadable: " + banner.error().ToString() + ")");
  fmt::print("build ID: {}\n", build_id ? *build_id : "(unreadable: " + build_id.error().ToString() + ")");
  if (dest.empty()) dest = DefaultDest();
  fs::path dir = dest / release;
  fs::create_directories(dir);
  fs::path vmlinux = dir / "vmlinux";
  if (fs::exists(vmlinux) && Matches(dump, vmlinux)) {
    fmt::print("already there: {}\n", vmlinux.string());
    return 0;
  }
  bool got = false;
  const char* urls = std::getenv("DEBUGINFOD_URLS");
  if (urls && *urls && build_id) got = FetchDebuginfod(*build_id, vmlinux);
  if (!got && use_apt) got = FetchApt(release, banner ? BannerVersion(*banner) : "", modules, dir);
  if (!got) {
    fmt::print(stderr, "coroner debuginfo: no debuginfo found for {}{}\n", release,
               urls && *urls ? "" : " (set DEBUGINFOD_URLS to ask debuginfod servers too)");
    return 1;
  }
  if (!Matches(dump, vmlinux)) {
    fs::remove(vmlinux);
    fmt::print(stderr, "coroner debuginfo: the fetched vmlinux is not this dump's kernel; removed\n");
    return 1;
  }
  fmt::print("vmlinux: {} ({} MB, banner matches the dump)\n", vmlinux.string(), fs::file_size(vmlinux) >> 20);
  if (!modules.empty() && fs::exists(dir / "modules")) {
    size_t kos = static_cast<size_t>(std::distance(fs::directory_iterator(dir / "modules"), {}));
    fmt::print("modules: {} of {} loaded modules' debug files in {}\n", kos, modules.size(), (dir / "modules").string());
  }
  return 0;
}

}  // namespace

int DebuginfoMain(int argc, char** argv) {
  CLI::App app{"coroner debuginfo: find and fetch the debug info that matches a dump"};
  app.require_subcommand(1);
  CLI::App* fetch = app.add_subcommand("fetch", "download the matching vmlinux (debuginfod, then apt) into the cache");
  std::vector<std::string> dump;
  std::string dest;
  bool no_apt = false;
  fetch->add_option("dump", dump, "Dump file(s)")->required();
  fetch->add_option("--dest", dest, "Where to put RELEASE/vmlinux (default: ~/.cache/coroner/debuginfo)");
  fetch->add_flag("--no-apt", no_apt, "Only ask debuginfod (DEBUGINFOD_URLS)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return Fetch(dump, dest, !no_apt);
}

}  // namespace coroner
