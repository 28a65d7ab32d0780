// A source-independent model of C types (from BTF today, from DWARF later), with the C
// declarator printer and the gdb-ptype layout crash uses for `struct`, `union` and `whatis`.
//
//   TypeTable types = ...;  // e.g. LoadBtf(bytes)
//   auto id = types.Find("struct task_struct");
//   std::cout << types.Layout(*id, /*offsets=*/true);   // crash's `struct -o task_struct`
//   std::string decl = types.Declaration(member.type, member.name);  // "char comm[16]"
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace coroner {

using TypeId = uint32_t;  // 0 is void

enum class TypeKind : uint8_t {
  kVoid, kInt, kFloat, kPointer, kArray, kStruct, kUnion, kEnum, kFwd, kTypedef,
  kConst, kVolatile, kRestrict, kFunction,
};

struct TypeMember {
  std::string name;  // empty for an anonymous struct/union member
  TypeId type = 0;
  uint64_t bit_offset = 0;
  uint32_t bit_size = 0;  // non-zero for a bitfield
};

struct TypeEnumerator {
  std::string name;
  int64_t value = 0;
};

struct Type {
  TypeKind kind = TypeKind::kVoid;
  std::string name;
  uint64_t size = 0;        // bytes (struct, union, int, float, enum)
  TypeId target = 0;        // pointee, array element, typedef/qualifier target, return type
  uint64_t count = 0;       // array elements
  bool is_signed = false;   // int, enum
  bool fwd_is_union = false;
  bool variadic = false;    // function
  std::vector<TypeMember> members;
  std::vector<TypeEnumerator> enumerators;
  std::vector<TypeId> params;
};

class TypeTable;

// What a TypeTable was asked for while recording (TypeTable::RecordUse): the types whose
// definitions were looked at and the variables whose types were. The triage file keeps just
// these (WriteBtfSubset).
struct TypeUse {
  std::vector<bool> ids;
  std::vector<std::string> variables;
  void Mark(TypeId id) {
    if (id >= ids.size()) ids.resize(id + 1);
    ids[id] = true;
  }
};

// A source that adds types on demand (DWARF, whose kernel types are too many to convert up
// front). BTF fills a table completely and needs none.
class LazyTypeSource {
 public:
  virtual ~LazyTypeSource() = default;
  // Adds the type with one of these index keys ("struct x", "union x", "enum x", "typedef x",
  // "base x"), the earliest listed that the source has, and returns its id (registered under
  // its key). Called once per set of keys.
  virtual std::optional<TypeId> Load(TypeTable& table, const std::vector<std::string>& keys) = 0;
  // Fills in a placeholder added with AddPending (its members, target, enumerators).
  virtual void Complete(TypeTable& table, TypeId id) = 0;
};

class TypeTable {
 public:
  TypeTable();
  TypeTable(TypeTable&&) = default;
  TypeTable& operator=(TypeTable&&) = default;

  // Types not in the table are asked of `source` (which must outlive the table).
  void SetLazySource(LazyTypeSource* source) { source_ = source; }
  // The lazy source has more to offer (a module's debug file was added): names it did not
  // have are asked again.
  void ForgetMisses() const { asked_.clear(); }
  // Appends a placeholder that the lazy source completes on first Get().
  TypeId AddPending(Type t);
  // Makes `key` find `id` (lazy sources register what they add).
  void Register(const std::string& key, TypeId id) { by_name_[key].push_back(id); }
  // A pointer to `target` (an existing one, or a new one).
  TypeId PointerTo(TypeId target) const;

  // Appends a type; ids are dense and start at 1 (0 is void).
  TypeId Add(Type t);
  // Sets the type at `id`, growing the table (loaders that keep their own numbering).
  void Set(TypeId id, Type t);
  // Builds the name indexes; call once after the last Add/Set.
  void Index();

  size_t size() const { return types_.size(); }
  // References stay valid while types are added.
  const Type& Get(TypeId id) const {
    if (use_) use_->Mark(id);
    return GetUnrecorded(id);
  }
  // Get() that a recording does not count: for scans over every type (enumerator indexes),
  // whose hit is marked with MarkUsed.
  const Type& GetUnrecorded(TypeId id) const {
    if (id >= types_.size()) return types_[0];
    if (id < pending_.size() && pending_[id]) Complete(id);
    return types_[id];
  }
  // Records, until RecordUse(nullptr), every type looked at into `use` (which must outlive it).
  void RecordUse(TypeUse* use) const { use_ = use; }
  void MarkUsed(TypeId id) const {
    if (use_) use_->Mark(id);
  }

  // The type as it stands, without completing a lazy placeholder: kind and name are right,
  // members may be missing. For printing names.
  const Type& Peek(TypeId id) const { return types_[id < types_.size() ? id : 0]; }

  // "struct task_struct", "union foo", "enum bar", or a bare name ("task_struct", "u64"):
  // a bare name finds a typedef first, then a struct, union or enum. Complete definitions
  // are preferred to forward declarations.
  std::optional<TypeId> Find(std::string_view name) const;

  // A member of a struct or union by name, looking through anonymous struct/union members as C
  // does: its bit offset from the start, its type and (bitfields) its width.
  struct MemberLocation {
    uint64_t bit_offset = 0;
    TypeId type = 0;
    uint32_t bit_size = 0;
  };
  std::optional<MemberLocation> FindMember(TypeId struct_id, std::string_view name) const;

  // Skips typedefs and qualifiers.
  TypeId Resolve(TypeId id) const;
  // Size in bytes (through typedefs, qualifiers, arrays); nullopt for void, functions and
  // incomplete types.
  std::optional<uint64_t> SizeOf(TypeId id) const;

  // A declaration in C syntax: Declaration(t, "comm") == "char comm[16]".
  std::string Declaration(TypeId id, std::string_view name) const;
  std::string Name(TypeId id) const { return Declaration(id, ""); }

  // Variables whose type the source records by name (BTF: the per-CPU variables of its
  // .data..percpu section; DWARF answers through Session::GlobalType instead).
  void AddVariable(std::string name, TypeId type) { variables_.emplace(std::move(name), type); }
  std::optional<TypeId> VariableType(std::string_view name) const {
    auto it = variables_.find(std::string(name));
    if (it == variables_.end()) return std::nullopt;
    if (use_) use_->variables.push_back(it->first);
    return it->second;
  }

  // gdb's ptype layout (crash's `struct`), optionally with crash's [offset] column, ending
  // with "SIZE: n".
  std::string Layout(TypeId id, bool offsets) const { return Layout(id, LayoutOptions{offsets, {}, false}); }
  struct LayoutOptions {
    bool offsets = false;
    std::optional<uint64_t> address;  // crash's `struct -o NAME ADDR`: each member's address
    bool hex = false;                 // crash's -x: offsets and size in hexadecimal
  };
  std::string Layout(TypeId id, const LayoutOptions& options) const;

 private:
  void Complete(TypeId id) const;
  std::string BaseName(const Type& t) const;
  void LayoutMembers(const Type& t, uint64_t base_bits, int depth, const LayoutOptions& o, int width,
                     std::string& out, bool hide_offsets) const;

  // Mutable: a lazy source adds and completes types behind const lookups.
  mutable std::deque<Type> types_;
  mutable std::unordered_map<std::string, std::vector<TypeId>> by_name_;  // "struct x", "typedef y", ...
  mutable std::vector<bool> pending_;
  mutable std::unordered_map<std::string, bool> asked_;  // keys already asked of source_
  mutable std::unordered_map<TypeId, TypeId> pointer_to_;
  LazyTypeSource* source_ = nullptr;
  std::unordered_map<std::string, TypeId> variables_;
  mutable TypeUse* use_ = nullptr;
};

// gdb's spelling of a DWARF base-type name: "long unsigned int" -> "unsigned long".
std::string GdbIntName(std::string_view dwarf_name);

}  // namespace coroner
