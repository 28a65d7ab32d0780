#include "lib/arch/x86_64_disasm.h"

#include <capstone/capstone.h>

#include <cstring>
#include <memory>
#include <string_view>

#include <fmt/format.h>

namespace coroner {
namespace {

struct InsnFree {
  void operator()(cs_insn* i) const { cs_free(i, 1); }
};

bool IsSuffix(char c) { return c == 'b' || c == 'w' || c == 'l' || c == 'q'; }

std::string Hex(uint64_t v) { return fmt::format("{:#x}", v); }

// binutils prints a signed displacement: 0x18(%rbx), -0x8(%rbp), 0x0(%rax,%rax,1).
std::string SignedHex(int64_t v) {
  return v < 0 ? fmt::format("-{:#x}", uint64_t{0} - static_cast<uint64_t>(v)) : Hex(static_cast<uint64_t>(v));
}

}  // namespace

Result<X86Disassembler> X86Disassembler::Create() {
  csh h = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) {
    return Error(ErrorCode::kUnsupported, "capstone: cannot open an x86_64 disassembler");
  }
  cs_option(h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
  cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
  X86Disassembler d;
  d.handle_ = h;
  return d;
}

X86Disassembler::X86Disassembler(X86Disassembler&& o) noexcept : handle_(o.handle_) { o.handle_ = 0; }
X86Disassembler& X86Disassembler::operator=(X86Disassembler&& o) noexcept {
  std::swap(handle_, o.handle_);
  return *this;
}
X86Disassembler::~X86Disassembler() {
  if (handle_) {
    csh h = handle_;
    cs_close(&h);
  }
}

X86Instruction X86Disassembler::Decode(std::span<const std::byte> code, uint64_t address) const {
  X86Instruction out;
  out.address = address;
  auto bad = [&]() {
    out.size = 1;
    out.valid = false;
    out.mnemonic = "(bad)";
    out.text = "(bad)";
    return out;
  };
  if (code.empty()) return bad();
  const auto* bytes = reinterpret_cast<const uint8_t*>(code.data());
  // Padding nops binutils prints by their prefixes: 66 90 "xchg %ax,%ax"; 66 66 66 66 90
  // (the 5-byte ftrace nop of older kernels) "data16 data16 data16 xchg %ax,%ax".
  {
    size_t n66 = 0;
    while (n66 < code.size() && n66 < 14 && bytes[n66] == 0x66) ++n66;
    if (n66 >= 1 && n66 < code.size() && bytes[n66] == 0x90) {
      out.size = static_cast<uint32_t>(n66 + 1);
      for (size_t i = 1; i < n66; ++i) out.mnemonic += "data16 ";
      out.mnemonic += "xchg";
      out.operands = "%ax,%ax";
    }
  }
  if (out.size == 0) {
    cs_insn* raw = nullptr;
    const uint8_t* p = bytes;
    size_t left = std::min<size_t>(code.size(), 15);
    uint64_t addr = address;
    csh h = handle_;
    if (cs_disasm(h, p, left, addr, 1, &raw) != 1) return bad();
    std::unique_ptr<cs_insn, InsnFree> insn(raw);
    const cs_x86& x = insn->detail->x86;
    out.size = insn->size;
    std::string name = cs_insn_name(h, insn->id);
    std::string mnem = insn->mnemonic;  // capstone's AT&T, e.g. "lock cmpxchgq"
    // Split off prefixes ("lock ", "rep ").
    std::string prefixes;
    if (auto sp = mnem.rfind(' '); sp != std::string::npos) {
      prefixes = mnem.substr(0, sp + 1);
      mnem = mnem.substr(sp + 1);
    }
    bool is_branch = cs_insn_group(h, insn.get(), CS_GRP_JUMP) || cs_insn_group(h, insn.get(), CS_GRP_CALL);
    bool has_reg = false;
    for (int i = 0; i < x.op_count; ++i) has_reg |= x.operands[i].type == X86_OP_REG;
    // A size suffix only where nothing else gives the size; never on stack and branch ops.
    bool stack_or_branch = name == "call" || name == "jmp" || name == "ret" || name == "push" || name == "pop" ||
                           name == "lret" || name == "iret" || is_branch;
    if (mnem.size() == name.size() + 1 && mnem.compare(0, name.size(), name) == 0 && IsSuffix(mnem.back()) &&
        (has_reg || stack_or_branch)) {
      mnem.pop_back();
    }
    if (mnem == "movabsq" || mnem == "movabsl") mnem = "movabs";
    // Padding nops with a %cs override: binutils prints the prefix as a word ("cs nopw").
    bool cs_word = name == "nop" && x.prefix[1] == 0x2e;
    if (cs_word) prefixes += "cs ";
    if (name == "nop" && x.prefix[2] == 0x66) {
      // Extra operand-size prefixes beyond the one "nopw" uses.
      size_t n66 = 0;
      for (size_t i = 0; i < out.size && (bytes[i] == 0x66 || bytes[i] == 0x2e); ++i) n66 += bytes[i] == 0x66;
      for (size_t i = 1; i < n66; ++i) prefixes = "data16 " + prefixes;
    }
    if (mnem == "pushfq" || mnem == "popfq") mnem.pop_back();  // binutils: pushf, popf
    // Branch prefixes binutils names: "notrack jmp *%rax" (3e on an indirect branch), "cs call".
    if (is_branch && x.prefix[1] == 0x3e) prefixes += has_reg || x.operands[0].type == X86_OP_MEM ? "notrack " : "ds ";
    if (is_branch && x.prefix[1] == 0x2e) prefixes += "cs ";
    if (prefixes == "repe ") prefixes = "repz ";
    if (prefixes == "repne ") prefixes = "repnz ";
    out.mnemonic = prefixes + mnem;
    // String instructions: binutils spells out both operands with their segments.
    bool string_op = x.opcode[0] == 0xa4 || x.opcode[0] == 0xa5 || x.opcode[0] == 0xa6 || x.opcode[0] == 0xa7 ||
                     (x.opcode[0] >= 0xaa && x.opcode[0] <= 0xaf);
    if (string_op && name.size() == 5 && x.op_count >= 1) {
      std::string_view base = std::string_view(name).substr(0, 4);
      uint8_t sz = x.operands[0].size;
      const char* acc = sz == 1 ? "%al" : sz == 2 ? "%ax" : sz == 4 ? "%eax" : "%rax";
      const char* operands = nullptr;
      if (base == "stos") operands = "%es:(%rdi)";
      if (base == "lods" || base == "scas" || base == "stos" || base == "movs" || base == "cmps") {
        if (base == "stos") {
          out.mnemonic = prefixes + "stos";
          out.operands = std::string(acc) + "," + operands;
        } else if (base == "lods") {
          out.mnemonic = prefixes + "lods";
          out.operands = std::string("%ds:(%rsi),") + acc;
        } else if (base == "scas") {
          out.mnemonic = prefixes + "scas";
          out.operands = std::string("%es:(%rdi),") + acc;
        } else if (base == "movs") {
          out.mnemonic = prefixes + name;
          out.operands = "%ds:(%rsi),%es:(%rdi)";
        } else {
          out.mnemonic = prefixes + name;
          out.operands = "%es:(%rdi),%ds:(%rsi)";
        }
        out.text = fmt::format("{:<6} {}", out.mnemonic, out.operands);
        return out;
      }
    }

    // Shifts by one (D0-D3 /n) show no count: "shl %eax".
    bool implicit_one = x.opcode[0] == 0xd0 || x.opcode[0] == 0xd1;
    std::string ops;
    for (int i = 0; i < x.op_count; ++i) {
      const cs_x86_op& op = x.operands[i];
      std::string s;
      switch (op.type) {
        case X86_OP_REG:
          s = std::string("%") + cs_reg_name(h, op.reg);
          if (is_branch) s = "*" + s;
          break;
        case X86_OP_IMM: {
          if (implicit_one && i == 0 && x.op_count == 2) continue;
          if (is_branch) {
            s = Hex(static_cast<uint64_t>(op.imm));
            out.branch_target = static_cast<uint64_t>(op.imm);
          } else {
            uint64_t v = static_cast<uint64_t>(op.imm);
            if (op.size && op.size < 8) v &= (uint64_t{1} << (op.size * 8)) - 1;
            s = "$" + Hex(v);
          }
          break;
        }
        case X86_OP_MEM: {
          const x86_op_mem& m = op.mem;
          if (m.segment != X86_REG_INVALID && !cs_word) s += std::string("%") + cs_reg_name(h, m.segment) + ":";
          bool has_disp = x.encoding.disp_size != 0 || m.disp != 0;
          if (m.base == X86_REG_INVALID && m.index == X86_REG_INVALID) {
            s += Hex(static_cast<uint64_t>(m.disp));  // an absolute address
          } else {
            if (has_disp) s += SignedHex(m.disp);
            s += "(";
            if (m.base != X86_REG_INVALID) s += std::string("%") + cs_reg_name(h, m.base);
            if (m.index != X86_REG_INVALID) {
              s += fmt::format(",%{},{}", cs_reg_name(h, m.index), m.scale);
            }
            s += ")";
            if (m.base == X86_REG_RIP) {
              out.rip_target = address + insn->size + static_cast<uint64_t>(m.disp);
            }
          }
          if (is_branch) s = "*" + s;
          break;
        }
        default:
          continue;
      }
      ops += (ops.empty() ? "" : ",") + s;
    }
    out.operands = ops;
  }
  // binutils pads a mnemonic to 6 columns and a space, even with no operands ("ret    "),
  // except a plain nop.
  if (out.mnemonic == "nop" && out.operands.empty()) {
    out.text = "nop";
    return out;
  }
  out.text = out.operands.empty() ? fmt::format("{:<6} ", out.mnemonic)
                                  : fmt::format("{:<6} {}", out.mnemonic, out.operands);
  return out;
}

}  // namespace coroner
