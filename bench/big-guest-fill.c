// big-guest-fill: fills the big benchmark guest's memory (see bench/make-big-guest.sh).
//
//   big-guest-fill anon MIB     anonymous memory of this process, filled, then held (pause)
//   big-guest-fill stale MIB    the same, then exit: the pages go back to the free lists
//                               with their contents (stale data in free pages)
//   big-guest-fill file PATH MIB  a file of MIB written and fsync'd (clean page cache)
//
// Every 4 KiB page starts with a 16-byte tag (CORONER-BIG-ANON / -FREE / -FILE) and an
// 8-byte page number, then one of three kinds of content, chosen per page by a fixed
// pseudo-random sequence in equal shares:
//   random  xorshift64 bytes: incompressible
//   text    log-like lines with a counter: compresses about 10x or more
//   half    2 KiB random then 2 KiB text: about 2x
// Prints what it made (pages of each kind, the address range) as key=value lines.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { kPage = 4096, kHeader = 24 };

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void) {
  uint64_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

static void fill_random(unsigned char *p, size_t n) {
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t r = next_random();
    memcpy(p + i, &r, 8);
  }
}

static uint64_t text_counter;

static char *put(char *o, const char *s) {
  size_t n = strlen(s);
  memcpy(o, s, n);
  return o + n;
}

static char *put_digits(char *o, uint64_t v, int width) {
  for (int i = width - 1; i >= 0; i--, v /= 10) o[i] = (char)('0' + v % 10);
  return o + width;
}

// Lines like "2026-11-24 07:00:00 user=anon record=000001234 status=ok lorem ipsum dolor\n"
// (built by hand: snprintf is slow under TCG).
static void fill_text(unsigned char *p, size_t n, const char *who) {
  static const char *words[] = {"lorem", "ipsum", "dolor", "sit", "amet", "consectetur",
                                "adipiscing", "elit", "sed", "do", "eiusmod", "tempor"};
  size_t off = 0;
  char line[160];
  while (off < n) {
    uint64_t c = text_counter++;
    char *o = put(line, "2026-11-24 07:");
    o = put_digits(o, c / 60 % 60, 2);
    *o++ = ':';
    o = put_digits(o, c % 60, 2);
    o = put(o, " user=");
    o = put(o, who);
    o = put(o, " record=");
    o = put_digits(o, c, 9);
    o = put(o, " status=ok ");
    o = put(o, words[c % 12]);
    *o++ = ' ';
    o = put(o, words[(c / 12) % 12]);
    *o++ = ' ';
    o = put(o, words[(c / 144) % 12]);
    *o++ = '\n';
    size_t len = (size_t)(o - line);
    size_t take = len < n - off ? len : n - off;
    memcpy(p + off, line, take);
    off += take;
  }
}

struct counts {
  uint64_t random, text, half;
};

static void fill_page(unsigned char *page, uint64_t index, const char *tag, const char *who,
                      struct counts *k) {
  memcpy(page, tag, 16);
  memcpy(page + 16, &index, 8);
  switch (next_random() % 3) {
  case 0:
    fill_random(page + kHeader, kPage - kHeader);
    k->random++;
    break;
  case 1:
    fill_text(page + kHeader, kPage - kHeader, who);
    k->text++;
    break;
  default:
    fill_random(page + kHeader, kPage / 2 - kHeader);
    fill_text(page + kPage / 2, kPage / 2, who);
    k->half++;
    break;
  }
}

static void report(const char *mode, uint64_t pages, const struct counts *k) {
  printf("mode=%s\npages=%llu\nmib=%llu\npages_random=%llu\npages_text=%llu\npages_half=%llu\n", mode,
         (unsigned long long)pages, (unsigned long long)(pages * kPage >> 20),
         (unsigned long long)k->random, (unsigned long long)k->text, (unsigned long long)k->half);
}

static int fill_memory(const char *mode, uint64_t mib) {
  int hold = strcmp(mode, "anon") == 0;
  uint64_t pages = (mib << 20) / kPage;
  size_t bytes = pages * kPage;
  unsigned char *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) {
    fprintf(stderr, "mmap %zu: %s\n", bytes, strerror(errno));
    return 1;
  }
  // no transparent huge pages: ordinary 4 KiB user pages, as most processes have
  madvise(buf, bytes, MADV_NOHUGEPAGE);
  rng_state ^= hold ? 0x1111 : 0x2222;
  struct counts k = {0};
  for (uint64_t i = 0; i < pages; i++)
    fill_page(buf + i * kPage, i, hold ? "CORONER-BIG-ANON" : "CORONER-BIG-FREE", hold ? "anon" : "free", &k);
  report(mode, pages, &k);
  printf("pid=%d\naddr=%p\nend=%p\n", (int)getpid(), (void *)buf, (void *)(buf + bytes));
  if (!hold) {
    printf("exiting: the pages go back to the free lists\n");
    return 0;
  }
  printf("ready=1\n");
  fflush(stdout);
  for (;;)
    pause();
}

static int fill_file(const char *path, uint64_t mib) {
  enum { kChunk = 256 };  // pages per write
  static unsigned char chunk[kChunk * kPage];
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    fprintf(stderr, "open %s: %s\n", path, strerror(errno));
    return 1;
  }
  rng_state ^= 0x3333;
  uint64_t pages = (mib << 20) / kPage;
  struct counts k = {0};
  for (uint64_t i = 0; i < pages; i += kChunk) {
    uint64_t n = pages - i < kChunk ? pages - i : kChunk;
    for (uint64_t j = 0; j < n; j++) fill_page(chunk + j * kPage, i + j, "CORONER-BIG-FILE", "file", &k);
    if (write(fd, chunk, n * kPage) != (ssize_t)(n * kPage)) {
      fprintf(stderr, "write %s: %s\n", path, strerror(errno));
      return 1;
    }
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    fprintf(stderr, "fsync %s: %s\n", path, strerror(errno));
    return 1;
  }
  report("file", pages, &k);
  printf("path=%s\n", path);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 3 && (strcmp(argv[1], "anon") == 0 || strcmp(argv[1], "stale") == 0))
    return fill_memory(argv[1], strtoull(argv[2], NULL, 10));
  if (argc == 4 && strcmp(argv[1], "file") == 0) return fill_file(argv[2], strtoull(argv[3], NULL, 10));
  fprintf(stderr, "usage: %s anon|stale MIB | file PATH MIB\n", argv[0]);
  return 2;
}
