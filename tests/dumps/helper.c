/*
 * coroner test-dump helper: a tiny static program that runs inside the QEMU
 * guest before the crash, so that the dump holds a user process with a known
 * set of open files, sockets, SysV IPC objects and mappings.
 *
 * Built on the host by make-test-dumps.sh with `gcc -static -O2`.
 *
 * It prints "key=value" lines on stdout (the guest's /init saves them as
 * guest-view/helper.txt), then sleeps forever.  The fds are opened in a fixed
 * order so their numbers are predictable (0,1,2 are inherited):
 *   3 regular file (read/write)   argv[1] (default /tmp/helper-file.txt)
 *   4 directory                   /
 *   5 /dev/null
 *   6,7 pipe (read end, write end)
 *   8 TCP socket listening on 127.0.0.1:HELPER_TCP_PORT
 *   9 UDP socket bound to 127.0.0.1:HELPER_UDP_PORT
 *  10 unix stream socket listening on HELPER_UNIX_PATH
 *  11 the file that is mmap()ed shared (argv[2])
 * Memory: a 1 MiB anonymous buffer filled with "CORONER-MAGIC-01" repeated,
 * a 64 KiB anonymous mmap() region filled with "CORONER-ANON-MAP", and a
 * MAP_SHARED mapping of the file in argv[2] (its first bytes are
 * "CORONER-FILE-MAP"), and a 64 KiB anonymous region filled with
 * "CORONER-SWAPPED!" and pushed out to swap with madvise(MADV_PAGEOUT); its
 * pages' swap entries as /proc/self/pagemap reports them are printed
 * (swap_addr, swap_pages = how many are in swap, swap_entry_N=TYPE:OFFSET).
 * SysV IPC: one shm segment (key HELPER_SHM_KEY, 64 KiB, attached, starts with
 * "CORONER-SHM-SEG!"), one semaphore set (key HELPER_SEM_KEY, 3 sems) and one
 * message queue (key HELPER_MSG_KEY) holding one message.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define HELPER_TCP_PORT 47011
#define HELPER_UDP_PORT 47012
#define HELPER_UNIX_PATH "/tmp/coroner-helper.sock"
#define HELPER_SHM_KEY 0x434f5201
#define HELPER_SEM_KEY 0x434f5202
#define HELPER_MSG_KEY 0x434f5203
#define MAGIC "CORONER-MAGIC-01"
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#define BUF_SIZE (1024 * 1024)

static void die(const char *what)
{
	fprintf(stderr, "helper: %s: %s\n", what, strerror(errno));
	fflush(stderr);
	exit(1);
}

static void fill(unsigned char *p, size_t len, const char *pat)
{
	size_t n = strlen(pat);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)pat[i % n];
}

int main(int argc, char **argv)
{
	const char *file_path = argc > 1 ? argv[1] : "/tmp/helper-file.txt";
	const char *map_path = argc > 2 ? argv[2] : "/tmp/helper-map.bin";

	/* fd 3: a regular file */
	int fd_file = open(file_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd_file < 0)
		die("open file");
	static const char text[] = "coroner helper regular file\n";
	if (write(fd_file, text, sizeof(text) - 1) < 0)
		die("write file");

	/* fd 4: a directory */
	int fd_dir = open("/", O_RDONLY | O_DIRECTORY);
	if (fd_dir < 0)
		die("open dir");

	/* fd 5: /dev/null */
	int fd_null = open("/dev/null", O_RDWR);
	if (fd_null < 0)
		die("open /dev/null");

	/* fds 6,7: a pipe with some bytes in it */
	int pfd[2];
	if (pipe(pfd) < 0)
		die("pipe");
	if (write(pfd[1], "CORONER-PIPE", 12) < 0)
		die("write pipe");

	/* fd 8: TCP listener on 127.0.0.1 */
	int fd_tcp = socket(AF_INET, SOCK_STREAM, 0);
	if (fd_tcp < 0)
		die("socket tcp");
	int one = 1;
	setsockopt(fd_tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(HELPER_TCP_PORT);
	if (bind(fd_tcp, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind tcp");
	if (listen(fd_tcp, 4) < 0)
		die("listen tcp");

	/* fd 9: UDP socket on 127.0.0.1 */
	int fd_udp = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd_udp < 0)
		die("socket udp");
	sin.sin_port = htons(HELPER_UDP_PORT);
	if (bind(fd_udp, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind udp");

	/* fd 10: unix stream listener */
	int fd_unix = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd_unix < 0)
		die("socket unix");
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, HELPER_UNIX_PATH, sizeof(sun.sun_path) - 1);
	unlink(HELPER_UNIX_PATH);
	if (bind(fd_unix, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("bind unix");
	if (listen(fd_unix, 4) < 0)
		die("listen unix");

	/* fd 11: a file mapped MAP_SHARED */
	int fd_map = open(map_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd_map < 0)
		die("open map file");
	if (ftruncate(fd_map, 65536) < 0)
		die("ftruncate");
	unsigned char *fmap = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd_map, 0);
	if (fmap == MAP_FAILED)
		die("mmap file");
	fill(fmap, 65536, "CORONER-FILE-MAP");

	/* anonymous mmap region */
	unsigned char *amap = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (amap == MAP_FAILED)
		die("mmap anon");
	fill(amap, 65536, "CORONER-ANON-MAP");

	/* 1 MiB anonymous buffer with the magic pattern */
	unsigned char *buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap buf");
	fill(buf, BUF_SIZE, MAGIC);

	/* an anonymous region pushed out to swap */
	unsigned char *swp = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (swp == MAP_FAILED)
		die("mmap swap");
	fill(swp, 65536, "CORONER-SWAPPED!");
	if (madvise(swp, 65536, MADV_PAGEOUT) < 0)
		fprintf(stderr, "helper: madvise(MADV_PAGEOUT): %s\n", strerror(errno));
	unsigned long long swap_entries[16] = { 0 };
	int swapped = 0;
	int pm = open("/proc/self/pagemap", O_RDONLY);
	for (int i = 0; pm >= 0 && i < 16; i++) {
		unsigned long long e = 0;
		off_t at = (off_t)(((unsigned long)swp / 4096) + i) * 8;
		if (pread(pm, &e, 8, at) == 8 && (e >> 62 & 1)) {
			swap_entries[i] = e;
			swapped++;
		}
	}
	if (pm >= 0)
		close(pm);

	/* SysV IPC */
	int shmid = shmget(HELPER_SHM_KEY, 65536, IPC_CREAT | 0600);
	if (shmid < 0)
		die("shmget");
	unsigned char *shm = shmat(shmid, NULL, 0);
	if (shm == (void *)-1)
		die("shmat");
	fill(shm, 65536, "CORONER-SHM-SEG!");
	int semid = semget(HELPER_SEM_KEY, 3, IPC_CREAT | 0600);
	if (semid < 0)
		die("semget");
	int msqid = msgget(HELPER_MSG_KEY, IPC_CREAT | 0600);
	if (msqid < 0)
		die("msgget");
	struct {
		long mtype;
		char mtext[32];
	} msg = { 1, "CORONER-MSG-QUEUE" };
	if (msgsnd(msqid, &msg, sizeof(msg.mtext), IPC_NOWAIT) < 0)
		die("msgsnd");

	printf("pid=%d\n", (int)getpid());
	printf("magic=%s\n", MAGIC);
	printf("magic_buf_addr=0x%lx\n", (unsigned long)buf);
	printf("magic_buf_size=%d\n", BUF_SIZE);
	printf("anon_map_addr=0x%lx\n", (unsigned long)amap);
	printf("file_map_addr=0x%lx\n", (unsigned long)fmap);
	printf("file_map_path=%s\n", map_path);
	printf("shm_addr=0x%lx\n", (unsigned long)shm);
	printf("fd_file=%d path=%s\n", fd_file, file_path);
	printf("fd_dir=%d path=/\n", fd_dir);
	printf("fd_null=%d path=/dev/null\n", fd_null);
	printf("fd_pipe_r=%d\nfd_pipe_w=%d\n", pfd[0], pfd[1]);
	printf("fd_tcp=%d addr=127.0.0.1:%d\n", fd_tcp, HELPER_TCP_PORT);
	printf("fd_udp=%d addr=127.0.0.1:%d\n", fd_udp, HELPER_UDP_PORT);
	printf("fd_unix=%d path=%s\n", fd_unix, HELPER_UNIX_PATH);
	printf("fd_map=%d path=%s\n", fd_map, map_path);
	printf("shmid=%d key=0x%x\n", shmid, HELPER_SHM_KEY);
	printf("semid=%d key=0x%x\n", semid, HELPER_SEM_KEY);
	printf("msqid=%d key=0x%x\n", msqid, HELPER_MSG_KEY);
	printf("swap_addr=0x%lx\n", (unsigned long)swp);
	printf("swap_pages=%d\n", swapped);
	for (int i = 0; i < 16; i++)
		if (swap_entries[i])
			printf("swap_entry_%d=%llu:%llu\n", i, swap_entries[i] & 0x1f,
			       (swap_entries[i] >> 5) & ((1ULL << 50) - 1));
	printf("ready=1\n");
	fflush(stdout);

	signal(SIGHUP, SIG_IGN);
	for (;;)
		pause();
}
