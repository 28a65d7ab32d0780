// Printing a value of a kernel type read from memory, in gdb's "print pretty" layout as crash
// shows it for `p`:   {\n  name = {\n    sysname = "Linux\000...",\n ... }
//
//   ValueFormatter f(types, mem, symbols);
//   CORONER_TRY(std::string text, f.Format(type_id, address));
#pragma once

#include <cstdint>
#include <string>

#include "lib/base/error.h"
#include "lib/debuginfo/symbol_table.h"
#include "lib/debuginfo/types.h"
#include "lib/memory/kernel_memory.h"

namespace coroner {

class ValueFormatter {
 public:
  ValueFormatter(const TypeTable& types, const VirtualMemory& mem, const SymbolTable* symbols)
      : types_(types), mem_(mem), symbols_(symbols) {}

  // gdb's output radix for integers (crash's -x / -d): 10 (the default) or 16, where an
  // integer prints as the hexadecimal of its bits (int -1 is 0xffffffff) and a char as 0x41 'A'.
  void set_radix(int radix) { radix_ = radix; }

  // The value of type `type` stored at `address`; `top` adds the "(type *) " prefix gdb puts
  // before a pointer printed on its own.
  Result<std::string> Format(TypeId type, uint64_t address, bool top = true) const;
  // A pointer value as gdb shows it: 0xffffffff81e0a940 <init_task>.
  std::string Pointer(uint64_t value) const;
  // The value of a member as it appears inside a structure printed at `indent` spaces (its
  // nested lines indented from there): what crash picks out of a structure for struct.member.
  Result<std::string> FormatNested(TypeId type, uint64_t address, int indent, uint64_t bit_offset = 0,
                                   uint32_t bit_size = 0) const {
    return FormatAt(type, address, indent, bit_offset, bit_size, 0);
  }

 private:
  Result<std::string> FormatAt(TypeId type, uint64_t address, int indent, uint64_t bit_offset,
                               uint32_t bit_size, int depth) const;
  bool IsCharPointer(const Type& pointer) const;
  std::string CharPointer(uint64_t value) const;
  Result<uint64_t> ReadScalar(uint64_t address, uint64_t size, uint64_t bit_offset, uint32_t bit_size) const;

  const TypeTable& types_;
  const VirtualMemory& mem_;
  const SymbolTable* symbols_;
  int radix_ = 10;
};

}  // namespace coroner
