// coroner: the command-line front-end. Thin: parses arguments, calls lib/commands, prints
// through lib/render, and turns an Error into one line on stderr and a non-zero exit.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "lib/commands/info.h"
#include "lib/dump/dump.h"
#include "lib/render/info_render.h"

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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"coroner: Linux kernel crash dump analysis"};
  app.set_version_flag("--version", "coroner 0.1.0");
  app.require_subcommand(1);

  std::vector<std::string> info_files;
  bool info_json = false;
  auto* info = app.add_subcommand("info", "Show what a dump file says about itself (format, headers, "
                                          "page counts, CPU registers, VMCOREINFO)");
  info->add_option("dump", info_files, "Dump file(s); several files form a split set")->required();
  info->add_flag("--json", info_json, "Print JSON instead of text");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*info) return RunInfo(info_files, info_json);
  return 2;
}
