#include "lib/debuginfo/symbol_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace coroner {
namespace {

std::vector<std::string> Names(const std::vector<const Symbol*>& v) {
  std::vector<std::string> out;
  for (const Symbol* s : v) out.emplace_back(s->name);
  return out;
}

SymbolTable Sample() {
  SymbolTable::Builder b;
  // Deliberately out of address order.
  b.Add("schedule", 0xffffffff81cc3500, 'T');
  b.Add("jiffies", 0xffffffff82c079c0, 'D');
  b.Add("__per_cpu_start", 0, 'A', std::nullopt, true);
  b.Add("runqueues", 0x2c8c0, 'A', std::nullopt, true);
  b.Add("__schedule", 0xffffffff81cc2a30, 't');
  b.Add("dup", 0xffffffff81000100, 't');          // local
  b.Add("dup", 0xffffffff81000200, 'T');          // global: offered first
  b.Add("dup", 0xffffffff81000050, 'W');          // weak: after global
  b.Add("__start_foo", 0xffffffff81000300, 'D');  // linker marker at one address with...
  b.Add("foo_table", 0xffffffff81000300, 'D');    // ... the real object, which wins
  b.Add("__x", 0xffffffff81000400, 'T');
  b.Add("x", 0xffffffff81000400, 'T');  // fewer underscores wins
  b.Add("sized", 0xffffffff81000500, 'T', 0x10);
  return std::move(b).Build();
}

TEST(SymbolTable, AddressOrderAndTies) {
  SymbolTable t = Sample();
  ASSERT_EQ(t.size(), 13u);
  auto syms = t.symbols();
  for (size_t i = 1; i < syms.size(); ++i) EXPECT_LE(syms[i - 1].address, syms[i].address);
  EXPECT_EQ(syms[0].name, "__per_cpu_start");
  EXPECT_TRUE(syms[0].percpu);
  auto m = t.LookupAddress(0xffffffff81000300);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->symbol->name, "foo_table");
  EXPECT_EQ(m->offset, 0u);
  m = t.LookupAddress(0xffffffff81000410);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->symbol->name, "x");
  EXPECT_EQ(m->offset, 0x10u);
  EXPECT_TRUE(m->inside);  // no size known
}

TEST(SymbolTable, LookupAddress) {
  SymbolTable t = Sample();
  auto m = t.LookupAddress(0xffffffff81cc3500);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->symbol->name, "schedule");
  EXPECT_EQ(m->offset, 0u);
  EXPECT_EQ(m->symbol->type, 'T');
  m = t.LookupAddress(0xffffffff81cc3501);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->symbol->name, "schedule");
  EXPECT_EQ(m->offset, 1u);
  m = t.LookupAddress(0xffffffff81cc34ff);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->symbol->name, "__schedule");
  // Sized symbol: inside, then past its end.
  m = t.LookupAddress(0xffffffff8100050f);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->symbol->name, "sized");
  EXPECT_TRUE(m->inside);
  m = t.LookupAddress(0xffffffff81000510);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->symbol->name, "sized");
  EXPECT_FALSE(m->inside);
  // Per-CPU offsets resolve to per-CPU symbols.
  m = t.LookupAddress(0x2c8c8);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->symbol->name, "runqueues");
  EXPECT_EQ(m->offset, 8u);
  // Above everything: the last symbol; and an empty table finds nothing.
  m = t.LookupAddress(~0ull);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->symbol->name, "jiffies");
  SymbolTable empty = SymbolTable::Builder().Build();
  EXPECT_FALSE(empty.LookupAddress(0x1000));
  EXPECT_EQ(empty.Find("x"), nullptr);
  EXPECT_TRUE(empty.WithPrefix("").empty());
}

TEST(SymbolTable, LookupByName) {
  SymbolTable t = Sample();
  EXPECT_EQ(Names(t.Lookup("dup")), (std::vector<std::string>{"dup", "dup", "dup"}));
  auto dups = t.Lookup("dup");
  EXPECT_EQ(dups[0]->type, 'T');
  EXPECT_EQ(dups[1]->type, 'W');
  EXPECT_EQ(dups[2]->type, 't');
  EXPECT_EQ(t.Find("dup")->address, 0xffffffff81000200u);
  EXPECT_TRUE(t.Lookup("nope").empty());
  EXPECT_EQ(t.Find("nope"), nullptr);
  auto a = t.AddressOf("jiffies");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, 0xffffffff82c079c0u);
  auto missing = t.AddressOf("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(SymbolTable, PrefixAndIteration) {
  SymbolTable t = Sample();
  EXPECT_EQ(Names(t.WithPrefix("sch")), (std::vector<std::string>{"schedule"}));
  EXPECT_EQ(Names(t.WithPrefix("__")),
            (std::vector<std::string>{"__per_cpu_start", "__schedule", "__start_foo", "__x"}));
  EXPECT_EQ(t.WithPrefix("", 3).size(), 3u);
  EXPECT_EQ(t.WithPrefix("").size(), t.size());
  EXPECT_EQ(t.LowerBound(0xffffffff81000300), t.LowerBound(0xffffffff81000201));
  EXPECT_EQ(t.symbols()[t.LowerBound(0xffffffff81000300)].name, "foo_table");
  EXPECT_EQ(t.LowerBound(~0ull), t.size());
  EXPECT_EQ(t.DistanceToNext(*t.Find("__schedule")), 0xad0u);
  EXPECT_FALSE(t.DistanceToNext(*t.Find("jiffies")));
}

TEST(SymbolTable, NameOrderAcrossChunkBoundaries) {
  // Names that share their first 8 or 16 bytes, one of them exactly that long, and names in
  // every order of addition: each must be found, and prefix search must list them in order.
  std::vector<std::string> names = {
      "map_vdso_once",        "map_vdso",        "map_vdsp", "map_vds",         "map_vdso_",
      "map_vdso_once_more_x", "map_vdso_once_m", "a",        "__per_cpu_start", "__per_cpu_end"};
  for (int rotate = 0; rotate < static_cast<int>(names.size()); ++rotate) {
    SymbolTable::Builder b;
    for (size_t k = 0; k < names.size(); ++k) {
      b.Add(names[(k + rotate) % names.size()], 0x1000 + 0x10 * k, 'T');
    }
    SymbolTable t = std::move(b).Build();
    for (const std::string& n : names) {
      const Symbol* s = t.Find(n);
      ASSERT_NE(s, nullptr) << n << " rotate " << rotate;
      EXPECT_EQ(s->name, n);
    }
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(Names(t.WithPrefix("")), sorted);
  }
}

TEST(SymbolTable, NameOrderMatchesStringOrder) {
  // Many names over a tiny alphabet: long shared prefixes, duplicates, every length near the
  // 8- and 16-byte chunk boundaries.
  std::mt19937 rng(42);
  std::vector<std::string> names;
  SymbolTable::Builder b;
  for (int i = 0; i < 5000; ++i) {
    std::string n(1 + rng() % 20, 'a');
    for (char& c : n) c = "ab_"[rng() % 3];
    names.push_back(n);
    b.Add(n, rng() % 100000, "Ttw"[rng() % 3]);
  }
  SymbolTable t = std::move(b).Build();
  std::sort(names.begin(), names.end());
  auto all = t.WithPrefix("");
  ASSERT_EQ(all.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_EQ(all[i]->name, names[i]) << i;
    if (i > 0 && names[i] == names[i - 1]) {
      // One name: global before weak before local, then by address.
      auto rank = [](const Symbol* s) { return s->IsWeak() ? 1 : s->IsGlobal() ? 0 : 2; };
      ASSERT_LE(rank(all[i - 1]), rank(all[i]));
      if (rank(all[i - 1]) == rank(all[i])) {
        ASSERT_LE(all[i - 1]->address, all[i]->address);
      }
    }
  }
  for (const std::string& n : names) ASSERT_EQ(t.Find(n)->name, n);
}

TEST(SymbolTable, NamesSurviveMove) {
  SymbolTable t = Sample();
  SymbolTable u = std::move(t);
  EXPECT_EQ(u.Find("schedule")->name, "schedule");
  std::vector<SymbolTable> v;
  v.push_back(std::move(u));
  v.emplace_back();
  EXPECT_EQ(v[0].Find("jiffies")->name, "jiffies");
}

TEST(SymbolSubset, KeepsTheUsedSymbolsWithTheirExtents) {
  SymbolTable t = Sample();
  std::vector<bool> marks;
  t.RecordUse(&marks);
  ASSERT_TRUE(t.Find("schedule"));
  auto hit = t.LookupAddress(0xffffffff81000404);  // x+4: marks x and __x (one address)
  ASSERT_TRUE(hit && hit->symbol);
  t.RecordUse(nullptr);
  EXPECT_TRUE(t.Find("jiffies"));  // not recorded any more

  auto bytes = WriteSymbolSubset(t, marks);
  auto sub = ReadSymbolSubset(bytes, "kept only what was used");
  ASSERT_TRUE(sub.has_value()) << sub.error().message();
  EXPECT_EQ(sub->scope(), "kept only what was used");
  EXPECT_EQ(sub->size(), 3u);
  ASSERT_TRUE(sub->Find("schedule"));
  EXPECT_EQ(sub->Find("schedule")->address, 0xffffffff81cc3500u);
  EXPECT_EQ(sub->Find("schedule")->type, 'T');
  EXPECT_TRUE(sub->Find("__x"));
  EXPECT_FALSE(sub->Find("jiffies"));
  // schedule reaches to the next symbol of the whole table (jiffies): inside, it answers...
  auto in = sub->LookupAddress(0xffffffff81cc3510);
  ASSERT_TRUE(in && in->symbol);
  EXPECT_EQ(in->symbol->name, "schedule");
  EXPECT_EQ(in->offset, 0x10u);
  // ...past it (where the whole table has jiffies), it does not guess schedule+N.
  EXPECT_FALSE(sub->LookupAddress(0xffffffff82c079c8));
  // x reaches to "sized" at ...500, not to schedule.
  EXPECT_TRUE(sub->LookupAddress(0xffffffff810004ff));
  EXPECT_FALSE(sub->LookupAddress(0xffffffff81000500));

  auto missing = sub->AddressOf("jiffies");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("kept only what was used"), std::string::npos);
  EXPECT_EQ(WithScope(*sub, "no jiffies"), "no jiffies (kept only what was used)");
  EXPECT_EQ(WithScope(t, "no jiffies"), "no jiffies");
}

TEST(SymbolSubset, RejectsBadBytes) {
  SymbolTable t = Sample();
  std::vector<bool> keep(t.size(), true);
  auto bytes = WriteSymbolSubset(t, keep);
  ASSERT_TRUE(ReadSymbolSubset(bytes, "s").has_value());
  // Every truncation is an error, never a shorter table.
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(ReadSymbolSubset(std::span(bytes).first(n), "s").has_value()) << n;
  }
  auto bad_magic = bytes;
  bad_magic[0] = std::byte{'X'};
  EXPECT_FALSE(ReadSymbolSubset(bad_magic, "s").has_value());
  auto trailing = bytes;
  trailing.push_back(std::byte{0});
  auto r = ReadSymbolSubset(trailing, "s");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("after the last symbol"), std::string::npos);
}

}  // namespace
}  // namespace coroner
