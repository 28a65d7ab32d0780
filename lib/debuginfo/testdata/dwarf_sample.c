/* A small program whose DWARF dwarf_info_test.cc reads: kernel-shaped types (bitfields, an
 * anonymous union, arrays, a function pointer, an incomplete struct), globals and lines. */
struct inner {
  int a;
};
typedef unsigned long u64;
enum color { RED = -1, GREEN = 5 };
struct opaque;
struct sample {
  u64 id;
  unsigned int flag : 1;
  unsigned int mode : 3;
  union {
    long l;
    struct inner in;
  };
  char name[16];
  struct sample *next;
  int (*fn)(struct sample *, unsigned int);
  enum color c;
  int grid[2][3];
  struct opaque *op;
};

struct sample sample_global = {.id = 42, .name = "sample"};
static int counter = 7;
volatile unsigned long ticks;
const char *greeting = "hello";

int sample_fn(int x) {
  return x + counter;
}

int main(void) {
  return sample_fn((int)ticks) + sample_global.name[0] + greeting[0];
}
