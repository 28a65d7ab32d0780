#include "lib/debuginfo/types.h"

#include "lib/debuginfo/btf_types.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

// Types are written as designated initializers that name only the fields that matter.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace coroner {
namespace {

// A small type graph built by hand, shaped like kernel types.
class TypesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ulong_ = Add({.kind = TypeKind::kInt, .name = "long unsigned int", .size = 8});
    int_ = Add({.kind = TypeKind::kInt, .name = "int", .size = 4, .is_signed = true});
    char_ = Add({.kind = TypeKind::kInt, .name = "char", .size = 1, .is_signed = true});
    uint_ = Add({.kind = TypeKind::kInt, .name = "unsigned int", .size = 4});
    // struct list_head { struct list_head *next, *prev; }: the pointer type comes first.
    list_ptr_ = static_cast<TypeId>(t_.size() + 1);
    list_ = Add({.kind = TypeKind::kPointer, .target = list_ptr_});  // placeholder, replaced below
    t_.Set(list_ptr_, {});
    std::swap(list_, list_ptr_);
    t_.Set(list_, {.kind = TypeKind::kStruct, .name = "list_head", .size = 16,
                   .members = {{"next", list_ptr_, 0, 0}, {"prev", list_ptr_, 64, 0}}});
    t_.Set(list_ptr_, {.kind = TypeKind::kPointer, .target = list_});
    comm_ = Add({.kind = TypeKind::kArray, .target = char_, .count = 16});
    const_char_ = Add({.kind = TypeKind::kConst, .target = char_});
    const_char_ptr_ = Add({.kind = TypeKind::kPointer, .target = const_char_});
    fn_ = Add({.kind = TypeKind::kFunction, .target = int_, .params = {list_ptr_, uint_}});
    fn_ptr_ = Add({.kind = TypeKind::kPointer, .target = fn_});
    void_fn_ = Add({.kind = TypeKind::kFunction, .target = 0});
    void_fn_ptr_ = Add({.kind = TypeKind::kPointer, .target = void_fn_});
    atomic_body_ = Add({.kind = TypeKind::kStruct, .size = 4, .members = {{"counter", int_, 0, 0}}});
    atomic_ = Add({.kind = TypeKind::kTypedef, .name = "atomic_t", .target = atomic_body_});
    anon_union_ = Add({.kind = TypeKind::kUnion, .size = 8,
                       .members = {{"a", ulong_, 0, 0}, {"b", atomic_, 0, 0}}});
    task_ = Add({.kind = TypeKind::kStruct, .name = "task", .size = 64,
                 .members = {{"state", uint_, 0, 0},
                             {"flag", uint_, 32, 1},
                             {"other", uint_, 33, 3},
                             {"", anon_union_, 64, 0},
                             {"tasks", list_, 128, 0},
                             {"comm", comm_, 256, 0},
                             {"name", const_char_ptr_, 384, 0},
                             {"fn", fn_ptr_, 448, 0}}});
    t_.Index();
  }
  TypeId Add(Type t) { return t_.Add(std::move(t)); }

  TypeTable t_;
  TypeId ulong_, int_, char_, uint_, list_, list_ptr_, comm_, const_char_, const_char_ptr_, fn_, fn_ptr_,
      void_fn_, void_fn_ptr_, atomic_body_, atomic_, anon_union_, task_;
};

// The triage file's BTF subset: the types a recording saw, whole, with what they hold by value;
// a struct seen only behind a pointer becomes a declaration; the rest is left out.
TEST_F(TypesTest, BtfSubsetKeepsWhatWasUsed) {
  TypeId mm = Add({.kind = TypeKind::kStruct, .name = "mm", .size = 8, .members = {{"users", atomic_, 0, 0}}});
  TypeId mm_ptr = Add({.kind = TypeKind::kPointer, .target = mm});
  TypeId holder = Add({.kind = TypeKind::kStruct, .name = "holder", .size = 72,
                       .members = {{"task", task_, 0, 0}, {"mm", mm_ptr, 512, 0}}});
  TypeId unused = Add({.kind = TypeKind::kStruct, .name = "unused", .size = 4, .members = {{"x", int_, 0, 0}}});
  (void)unused;
  t_.Index();
  const std::string want = t_.Layout(holder, true);
  TypeUse use;
  t_.RecordUse(&use);
  ASSERT_TRUE(t_.Find("struct holder"));
  (void)t_.Get(*t_.Find("struct holder"));
  t_.RecordUse(nullptr);
  auto blob = WriteBtfSubset(t_, use, static_cast<TypeId>(t_.size()));
  ASSERT_TRUE(blob) << blob.error().ToString();
  auto sub = LoadBtfTypes(*blob);
  ASSERT_TRUE(sub) << sub.error().ToString();
  auto h = sub->Find("struct holder");
  ASSERT_TRUE(h);
  EXPECT_EQ(sub->Layout(*h, true), want);
  auto m = sub->Find("struct mm");
  ASSERT_TRUE(m);
  EXPECT_EQ(sub->Get(*m).kind, TypeKind::kFwd);
  EXPECT_FALSE(sub->Find("struct unused"));
  ASSERT_TRUE(sub->Find("struct task"));
  EXPECT_EQ(sub->Layout(*sub->Find("struct task"), true), t_.Layout(task_, true));
}

TEST_F(TypesTest, DeclarationsAreCSyntax) {
  EXPECT_EQ(t_.Declaration(comm_, "comm"), "char comm[16]");
  EXPECT_EQ(t_.Declaration(const_char_ptr_, "name"), "const char *name");
  EXPECT_EQ(t_.Declaration(fn_ptr_, "fn"), "int (*fn)(struct list_head *, unsigned int)");
  EXPECT_EQ(t_.Declaration(void_fn_ptr_, "cb"), "void (*cb)(void)");
  EXPECT_EQ(t_.Declaration(list_ptr_, "next"), "struct list_head *next");
  EXPECT_EQ(t_.Name(ulong_), "unsigned long");  // gdb's spelling of the DWARF name
  EXPECT_EQ(t_.Declaration(atomic_, "count"), "atomic_t count");
}

TEST_F(TypesTest, FindAndSize) {
  EXPECT_EQ(t_.Find("struct task"), task_);
  EXPECT_EQ(t_.Find("task"), task_);
  EXPECT_EQ(t_.Find("atomic_t"), atomic_);
  EXPECT_EQ(t_.Find("unsigned long"), ulong_);
  EXPECT_FALSE(t_.Find("union task"));
  EXPECT_EQ(t_.SizeOf(comm_), 16u);
  EXPECT_EQ(t_.SizeOf(atomic_), 4u);
  EXPECT_EQ(t_.SizeOf(fn_ptr_), 8u);
  EXPECT_FALSE(t_.SizeOf(fn_));
}

TEST_F(TypesTest, LayoutLikeCrash) {
  EXPECT_EQ(t_.Layout(task_, false),
            "struct task {\n"
            "    unsigned int state;\n"
            "    unsigned int flag : 1;\n"
            "    unsigned int other : 3;\n"
            "    union {\n"
            "        unsigned long a;\n"
            "        atomic_t b;\n"
            "    };\n"
            "    struct list_head tasks;\n"
            "    char comm[16];\n"
            "    const char *name;\n"
            "    int (*fn)(struct list_head *, unsigned int);\n"
            "}\n"
            "SIZE: 64\n");
  EXPECT_EQ(t_.Layout(task_, true),
            "struct task {\n"
            "   [0] unsigned int state;\n"
            "   [4] unsigned int flag : 1;\n"
            "   [4] unsigned int other : 3;\n"
            "       union {\n"
            "   [8]     unsigned long a;\n"
            "   [8]     atomic_t b;\n"
            "       };\n"
            "  [16] struct list_head tasks;\n"
            "  [32] char comm[16];\n"
            "  [48] const char *name;\n"
            "  [56] int (*fn)(struct list_head *, unsigned int);\n"
            "}\n"
            "SIZE: 64\n");
  EXPECT_EQ(t_.Layout(atomic_, false), "typedef struct {\n    int counter;\n} atomic_t;\nSIZE: 4\n");
}

// A lazy source in the shape of the DWARF loader: "struct node" is found on demand and its
// members (a pointer to a struct that is only named) are filled in on first use.
class FakeLazySource : public LazyTypeSource {
 public:
  std::optional<TypeId> Load(TypeTable& table, const std::vector<std::string>& keys) override {
    loads.push_back(keys.front());
    for (const std::string& key : keys) {
      if (key == "struct node") return Named(table, TypeKind::kStruct, "node");
      if (key == "base int") return Int(table);
    }
    return std::nullopt;
  }
  void Complete(TypeTable& table, TypeId id) override {
    completed.push_back(table.Peek(id).name);
    Type t = table.Peek(id);
    if (t.name == "node") {
      t.size = 16;
      t.members = {{"value", Int(table), 0, 0},
                   {"other", table.PointerTo(Named(table, TypeKind::kStruct, "other")), 64, 0}};
    } else {
      t.size = 4;
      t.members = {{"x", Int(table), 0, 0}};
    }
    table.Set(id, std::move(t));
  }
  TypeId Named(TypeTable& table, TypeKind kind, const std::string& name) {
    if (auto it = ids.find(name); it != ids.end()) return it->second;
    Type t;
    t.kind = kind;
    t.name = name;
    TypeId id = table.AddPending(std::move(t));
    table.Register("struct " + name, id);
    return ids[name] = id;
  }
  TypeId Int(TypeTable& table) {
    if (auto it = ids.find("int"); it != ids.end()) return it->second;
    Type t;
    t.kind = TypeKind::kInt;
    t.name = "int";
    t.size = 4;
    t.is_signed = true;
    TypeId id = table.Add(std::move(t));
    table.Register("base int", id);
    return ids["int"] = id;
  }
  std::vector<std::string> loads, completed;
  std::map<std::string, TypeId> ids;
};

TEST(LazyTypeTable, LoadsOnFindAndCompletesOnUse) {
  FakeLazySource src;
  TypeTable t;
  t.SetLazySource(&src);
  auto node = t.Find("struct node");
  ASSERT_TRUE(node);
  EXPECT_TRUE(src.completed.empty());  // found, not yet filled in
  EXPECT_EQ(t.Layout(*node, true),
            "struct node {\n"
            // crash's [offset] column is as wide as the size's digits plus four.
            "   [0] int value;\n"
            "   [8] struct other *other;\n"
            "}\n"
            "SIZE: 16\n");
  // Printing the pointer's name did not fill in "struct other".
  EXPECT_EQ(src.completed, std::vector<std::string>{"node"});
  TypeId other = t.Get(*node).members[1].type;
  EXPECT_EQ(t.SizeOf(t.Get(other).target), 4u);
  EXPECT_EQ(src.completed, (std::vector<std::string>{"node", "other"}));
  // A miss is asked once; a hit is not asked again.
  EXPECT_FALSE(t.Find("struct missing"));
  EXPECT_FALSE(t.Find("struct missing"));
  EXPECT_TRUE(t.Find("struct node"));
  EXPECT_EQ(std::count(src.loads.begin(), src.loads.end(), "struct missing"), 1);
  // gdb's spelling of a base type reaches the source under the DWARF name.
  EXPECT_TRUE(t.Find("int"));
  EXPECT_EQ(t.PointerTo(*node), t.PointerTo(*node));
}

}  // namespace
}  // namespace coroner
