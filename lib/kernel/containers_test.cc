#include "lib/kernel/containers.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace coroner {
namespace {

// Sparse fake kernel memory: 8-byte words (and single bytes) at kernel addresses.
class FakeMemory final : public VirtualMemory {
 public:
  void Put64(uint64_t va, uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes_[va + static_cast<uint64_t>(i)] = static_cast<std::byte>(v >> (8 * i));
  }
  void Put8(uint64_t va, uint8_t v) { bytes_[va] = static_cast<std::byte>(v); }
  Result<void> Read(uint64_t va, std::span<std::byte> out) const override {
    for (size_t i = 0; i < out.size(); ++i) {
      auto it = bytes_.find(va + i);
      out[i] = it == bytes_.end() ? std::byte{0} : it->second;
    }
    return Ok();
  }

 private:
  std::map<uint64_t, std::byte> bytes_;
};

// The kernel types the walkers read, with the x86_64 layouts of 6.1+ (maple tree) and 4.20+
// (xarray) written out by hand.
class ContainersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ulong_ = Add({.kind = TypeKind::kInt, .name = "long unsigned int", .size = 8});
    uchar_ = Add({.kind = TypeKind::kInt, .name = "unsigned char", .size = 1});
    TypeId voidp = Add({.kind = TypeKind::kPointer, .target = 0});
    TypeId pivots15 = Add({.kind = TypeKind::kArray, .target = ulong_, .count = 15});
    TypeId pivots9 = Add({.kind = TypeKind::kArray, .target = ulong_, .count = 9});
    TypeId slots16 = Add({.kind = TypeKind::kArray, .target = voidp, .count = 16});
    TypeId slots10 = Add({.kind = TypeKind::kArray, .target = voidp, .count = 10});
    TypeId slots31 = Add({.kind = TypeKind::kArray, .target = voidp, .count = 31});
    TypeId slots64 = Add({.kind = TypeKind::kArray, .target = voidp, .count = 64});
    TypeId meta = Add({.kind = TypeKind::kStruct, .name = "maple_metadata", .size = 2,
                       .members = {{"end", uchar_, 0, 0}, {"gap", uchar_, 8, 0}}});
    // union { void *slot[16]; struct { void *pad[15]; struct maple_metadata meta; }; }
    TypeId pad15 = Add({.kind = TypeKind::kArray, .target = voidp, .count = 15});
    TypeId pad_meta = Add({.kind = TypeKind::kStruct, .size = 128,
                           .members = {{"pad", pad15, 0, 0}, {"meta", meta, 15 * 64, 0}}});
    TypeId slot_union = Add({.kind = TypeKind::kUnion, .size = 128,
                             .members = {{"slot", slots16, 0, 0}, {"", pad_meta, 0, 0}}});
    Add({.kind = TypeKind::kStruct, .name = "maple_range_64", .size = 256,
         .members = {{"parent", voidp, 0, 0}, {"pivot", pivots15, 64, 0}, {"", slot_union, 16 * 64, 0}}});
    Add({.kind = TypeKind::kStruct, .name = "maple_arange_64", .size = 248,
         .members = {{"parent", voidp, 0, 0}, {"pivot", pivots9, 64, 0}, {"slot", slots10, 10 * 64, 0},
                     {"gap", slots10, 20 * 64, 0}, {"meta", meta, 30 * 64, 0}}});
    Add({.kind = TypeKind::kStruct, .name = "maple_node", .size = 256,
         .members = {{"parent", voidp, 0, 0}, {"slot", slots31, 64, 0}}});
    Add({.kind = TypeKind::kStruct, .name = "maple_tree", .size = 24,
         .members = {{"ma_lock", uchar_, 0, 0}, {"ma_root", voidp, 64, 0}}});
    Add({.kind = TypeKind::kStruct, .name = "xarray", .size = 16,
         .members = {{"xa_lock", uchar_, 0, 0}, {"xa_head", voidp, 64, 0}}});
    Add({.kind = TypeKind::kStruct, .name = "xa_node", .size = 576,
         .members = {{"shift", uchar_, 0, 0}, {"slots", slots64, 40 * 8, 0}}});
    Add({.kind = TypeKind::kStruct, .name = "rb_node", .size = 24,
         .members = {{"__rb_parent_color", ulong_, 0, 0}, {"rb_right", voidp, 64, 0}, {"rb_left", voidp, 128, 0}}});
    Add({.kind = TypeKind::kStruct, .name = "rb_root", .size = 8, .members = {{"rb_node", voidp, 0, 0}}});
    types_.Index();
  }
  TypeId Add(Type t) { return types_.Add(std::move(t)); }

  // An encoded maple node pointer: node | type << 3 | 2 (include/linux/maple_tree.h).
  static uint64_t Enc(uint64_t node, int type) { return node | (static_cast<uint64_t>(type) << 3) | 2; }

  TypeTable types_;
  SymbolTable syms_ = SymbolTable::Builder().Build();
  FakeMemory mem_;
  TypeId ulong_ = 0, uchar_ = 0;
};

constexpr uint64_t kTree = 0xffff888000001000;
constexpr uint64_t kRoot = 0xffff888000010000;
constexpr uint64_t kLeafA = 0xffff888000010100;
constexpr uint64_t kLeafB = 0xffff888000010200;

TEST_F(ContainersTest, MapleTreeOfVmas) {
  // The shape of an mm_mt: an arange_64 root with two leaf_64 children.
  // Root: [0, 0x4fffff] -> leaf A, [0x500000, max] -> leaf B; metadata end = 1.
  mem_.Put64(kTree + 8, Enc(kRoot, 3));
  mem_.Put64(kRoot + 8, 0x4fffff);
  mem_.Put64(kRoot + 80, Enc(kLeafA, 1));
  mem_.Put64(kRoot + 88, Enc(kLeafB, 1));
  mem_.Put8(kRoot + 240, 1);
  // Leaf A, not full (last pivot 0): gap [0, 0x3fffff], VMA 1 [0x400000, 0x400fff],
  // gap [0x401000, 0x4fffff]; metadata end = 2.
  mem_.Put64(kLeafA + 8, 0x3fffff);
  mem_.Put64(kLeafA + 16, 0x400fff);
  mem_.Put64(kLeafA + 24, 0x4fffff);
  mem_.Put64(kLeafA + 128 + 8, 0xffff888000200000);
  mem_.Put8(kLeafA + 128 + 120, 2);
  // Leaf B, full: 16 slots, the last one's pivot is the node's max (implicit).
  for (uint64_t i = 0; i < 15; ++i) mem_.Put64(kLeafB + 8 + 8 * i, 0x500fff + 0x1000 * i);
  for (uint64_t i = 0; i < 16; i += 2) mem_.Put64(kLeafB + 128 + 8 * i, 0xffff888000300000 + 0x100 * i);
  Kernel k(mem_, types_, syms_);
  auto entries = MapleTreeEntries(k, kTree);
  ASSERT_TRUE(entries) << entries.error().ToString();
  ASSERT_EQ(entries->size(), 9u);
  EXPECT_EQ((*entries)[0].first, 0x400000u);
  EXPECT_EQ((*entries)[0].last, 0x400fffu);
  EXPECT_EQ((*entries)[0].entry, 0xffff888000200000u);
  EXPECT_EQ((*entries)[1].first, 0x500000u);
  EXPECT_EQ((*entries)[1].last, 0x500fffu);
  EXPECT_EQ((*entries)[8].first, 0x50e000u);  // slot 14: [pivot 13 + 1, pivot 14]
  EXPECT_EQ((*entries)[8].last, 0x50efffu);
  EXPECT_EQ((*entries)[8].entry, 0xffff888000300000u + 0x100 * 14);
}

TEST_F(ContainersTest, MapleTreeRejectsGarbage) {
  mem_.Put64(kTree + 8, Enc(kRoot, 3));
  mem_.Put64(kRoot + 8, 0x4fffff);
  mem_.Put64(kRoot + 80, Enc(0x1000, 1));  // a child that is not a kernel address
  mem_.Put8(kRoot + 240, 0);
  Kernel k(mem_, types_, syms_);
  auto entries = MapleTreeEntries(k, kTree);
  ASSERT_FALSE(entries);
  EXPECT_NE(entries.error().message().find("not a kernel address"), std::string::npos);
  // An unknown node type is named, not guessed.
  mem_.Put64(kRoot + 80, Enc(kLeafA, 7));
  entries = MapleTreeEntries(k, kTree);
  ASSERT_FALSE(entries);
  EXPECT_NE(entries.error().message().find("unknown type 7"), std::string::npos);
}

TEST_F(ContainersTest, MapleTreeWithOneEntryAtTheRoot) {
  mem_.Put64(kTree + 8, 0xffff888000400000);
  Kernel k(mem_, types_, syms_);
  auto entries = MapleTreeEntries(k, kTree);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].entry, 0xffff888000400000u);
}

TEST_F(ContainersTest, XArrayTwoLevels) {
  constexpr uint64_t kXa = 0xffff888000002000;
  constexpr uint64_t kTop = 0xffff888000020000;
  constexpr uint64_t kLeaf = 0xffff888000021000;
  mem_.Put64(kXa + 8, kTop | 2);
  mem_.Put8(kTop, 6);  // shift: each top slot covers 64 indices
  mem_.Put64(kTop + 40 + 8 * 0, 0xffff888000500000);  // index 0 (a multi-index entry)
  mem_.Put64(kTop + 40 + 8 * 2, kLeaf | 2);
  mem_.Put64(kTop + 40 + 8 * 3, (1 << 2) | 2);  // a sibling entry: skipped
  mem_.Put8(kLeaf, 0);
  mem_.Put64(kLeaf + 40 + 8 * 5, 0xffff888000600000);  // index 2 * 64 + 5
  Kernel k(mem_, types_, syms_);
  auto entries = XArrayEntries(k, kXa);
  ASSERT_TRUE(entries) << entries.error().ToString();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0], std::make_pair(uint64_t{0}, uint64_t{0xffff888000500000}));
  EXPECT_EQ((*entries)[1], std::make_pair(uint64_t{133}, uint64_t{0xffff888000600000}));
}

TEST_F(ContainersTest, RbTreeInOrder) {
  // root B with left A and right C (C has a left child: D, between B and C).
  constexpr uint64_t kRb = 0xffff888000003000, A = 0xffff888000030000, B = A + 0x100, C = A + 0x200, D = A + 0x300;
  mem_.Put64(kRb, B);
  mem_.Put64(B + 16, A);
  mem_.Put64(B + 8, C);
  mem_.Put64(C + 16, D);
  Kernel k(mem_, types_, syms_);
  auto nodes = RbTreeNodes(k, kRb);
  ASSERT_TRUE(nodes) << nodes.error().ToString();
  EXPECT_EQ(*nodes, (std::vector<uint64_t>{A, B, D, C}));
  mem_.Put64(D + 8, B);  // a cycle
  nodes = RbTreeNodes(k, kRb);
  ASSERT_FALSE(nodes);
  EXPECT_NE(nodes.error().message().find("seen twice"), std::string::npos);
}

}  // namespace
}  // namespace coroner
