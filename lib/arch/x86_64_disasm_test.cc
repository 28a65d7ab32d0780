#include "lib/arch/x86_64_disasm.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace coroner {
namespace {

constexpr uint64_t kAt = 0xffffffff81a114f0;

X86Instruction Decode(std::initializer_list<int> bytes, uint64_t at = kAt) {
  static auto dis = X86Disassembler::Create();
  std::vector<std::byte> b;
  for (int x : bytes) b.push_back(static_cast<std::byte>(x));
  return dis->Decode(b, at);
}

// Each expected text is what gdb 10 (crash 8.0.2) prints for the same bytes.
TEST(X86Disassembler, BinutilsAttLayout) {
  EXPECT_EQ(Decode({0x0f, 0x1f, 0x44, 0x00, 0x00}).text, "nopl   0x0(%rax,%rax,1)");
  EXPECT_EQ(Decode({0x55}).text, "push   %rbp");
  EXPECT_EQ(Decode({0x65, 0x48, 0x8b, 0x1c, 0x25, 0x80, 0xfb, 0x01, 0x00}).text, "mov    %gs:0x1fb80,%rbx");
  EXPECT_EQ(Decode({0x8b, 0x43, 0x18}).text, "mov    0x18(%rbx),%eax");
  EXPECT_EQ(Decode({0x48, 0x8b, 0x45, 0x00}).text, "mov    0x0(%rbp),%rax");
  EXPECT_EQ(Decode({0x48, 0x8b, 0x45, 0xf8}).text, "mov    -0x8(%rbp),%rax");
  EXPECT_EQ(Decode({0xc3}).text, "ret    ");
  EXPECT_EQ(Decode({0xcc}).text, "int3   ");
  EXPECT_EQ(Decode({0x0f, 0x0b}).text, "ud2    ");
  EXPECT_EQ(Decode({0x90}).text, "nop");
  EXPECT_EQ(Decode({0x66, 0x90}).text, "xchg   %ax,%ax");
  EXPECT_EQ(Decode({0x66, 0x66, 0x66, 0x66, 0x90}).text, "data16 data16 data16 xchg %ax,%ax");
  EXPECT_EQ(Decode({0x48, 0xc7, 0xc7, 0xc0, 0x6f, 0x4e, 0xa6}).text, "mov    $0xffffffffa64e6fc0,%rdi");
  EXPECT_EQ(Decode({0x48, 0x83, 0xe4, 0xf0}).text, "and    $0xfffffffffffffff0,%rsp");
  EXPECT_EQ(Decode({0xf0, 0x48, 0x0f, 0xb1, 0x17}).text, "lock cmpxchg %rdx,(%rdi)");
  EXPECT_EQ(Decode({0x48, 0x8d, 0x04, 0xc5, 0, 0, 0, 0}).text, "lea    0x0(,%rax,8),%rax");
  EXPECT_EQ(Decode({0x0f, 0xb6, 0x47, 0x10}).text, "movzbl 0x10(%rdi),%eax");
  EXPECT_EQ(Decode({0x48, 0x63, 0xff}).text, "movslq %edi,%rdi");
  EXPECT_EQ(Decode({0xd1, 0xe0}).text, "shl    %eax");
  EXPECT_EQ(Decode({0xf3, 0x48, 0xab}).text, "rep stos %rax,%es:(%rdi)");
  EXPECT_EQ(Decode({0xf3, 0x48, 0xa5}).text, "rep movsq %ds:(%rsi),%es:(%rdi)");
  EXPECT_EQ(Decode({0xf3, 0xa6}).text, "repz cmpsb %es:(%rdi),%ds:(%rsi)");
  EXPECT_EQ(Decode({0x9c}).text, "pushf  ");
  EXPECT_EQ(Decode({0xff, 0xd0}).text, "call   *%rax");
  EXPECT_EQ(Decode({0xff, 0x50, 0x08}).text, "call   *0x8(%rax)");
}

TEST(X86Disassembler, TargetsForSymbolization) {
  // call rel32 -> the absolute target; no "$".
  auto call = Decode({0xe8, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(call.text, "call   0xffffffff81a114f5");
  EXPECT_EQ(call.branch_target, kAt + 5);
  // A %rip-relative operand: the address it names (after the instruction), even with %gs.
  auto inc = Decode({0x65, 0xff, 0x05, 0xfd, 0xe5, 0x40, 0x5a}, 0xffffffffa5c1153c);
  EXPECT_EQ(inc.text, "incl   %gs:0x5a40e5fd(%rip)");
  EXPECT_EQ(inc.rip_target, 0x1fb40u);
  auto cmpb = Decode({0x80, 0x3d, 0x2e, 0x5c, 0x1f, 0x01, 0x00}, 0xffffffffa5c11594);
  EXPECT_EQ(cmpb.text, "cmpb   $0x0,0x11f5c2e(%rip)");
  EXPECT_EQ(cmpb.rip_target, 0xffffffffa6e071c9u);
  EXPECT_FALSE(cmpb.branch_target);
}

TEST(X86Disassembler, UndecodableByteIsBad) {
  auto bad = Decode({0x06});  // push %es: invalid in 64-bit mode
  EXPECT_FALSE(bad.valid);
  EXPECT_EQ(bad.size, 1u);
  EXPECT_EQ(bad.text, "(bad)");
  std::vector<std::byte> none;
  auto dis = X86Disassembler::Create();
  EXPECT_FALSE(dis->Decode(none, kAt).valid);
}

}  // namespace
}  // namespace coroner
