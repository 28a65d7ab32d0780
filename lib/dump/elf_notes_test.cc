#include "lib/dump/elf_notes.h"

#include <gtest/gtest.h>

#include <cstring>

namespace coroner {
namespace {

void Put32(std::vector<std::byte>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::byte>(v >> (8 * i)));
}

void AddNote(std::vector<std::byte>& b, std::string_view name, uint32_t type, size_t desc_len, int fill) {
  Put32(b, static_cast<uint32_t>(name.size() + 1));
  Put32(b, static_cast<uint32_t>(desc_len));
  Put32(b, type);
  for (char c : name) b.push_back(static_cast<std::byte>(c));
  b.push_back(std::byte{0});
  while (b.size() % 4) b.push_back(std::byte{0});
  for (size_t i = 0; i < desc_len; ++i) b.push_back(static_cast<std::byte>(fill));
  while (b.size() % 4) b.push_back(std::byte{0});
}

TEST(ElfNotes, ParsesAndStopsAtPadding) {
  std::vector<std::byte> b;
  AddNote(b, "CORE", kNtPrstatus, 336, 0x11);
  AddNote(b, "VMCOREINFO", 0, 7, 'A');
  b.resize(b.size() + 64);  // zero padding, as /proc/vmcore has
  Diagnostics diag;
  auto notes = ParseElfNotes(b, 0x1000, diag);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].name, "CORE");
  EXPECT_EQ(notes[0].type, kNtPrstatus);
  EXPECT_EQ(notes[0].desc.size(), 336u);
  EXPECT_EQ(notes[0].offset, 0x1000u);
  EXPECT_EQ(notes[1].name, "VMCOREINFO");
  EXPECT_EQ(notes[1].desc.size(), 7u);
  EXPECT_TRUE(diag.empty());
}

TEST(ElfNotes, TruncatedNoteIsAWarning) {
  std::vector<std::byte> b;
  AddNote(b, "CORE", kNtPrstatus, 336, 0x11);
  b.resize(100);
  Diagnostics diag;
  auto notes = ParseElfNotes(b, 0, diag);
  EXPECT_TRUE(notes.empty());
  ASSERT_EQ(diag.warnings().size(), 1u);
  EXPECT_NE(diag.warnings()[0].message.find("runs past the end"), std::string::npos);
}

}  // namespace
}  // namespace coroner
