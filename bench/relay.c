/*
 * The benchmark's relays between a pipe and the port: what a program with no runtime and no
 * protocol gets when it does agentd's job, one thread.
 *
 *   dd ... | relay out /dev/vportNpM        stdout's job: 256 KiB reads from a 1 MiB pipe (like
 *                                           agentd's pump), each written to the port
 *   relay in /dev/vportNpM BYTES | cat ...  stdin's job: BYTES read from the port, 64 KiB at a
 *                                           time, written to stdout (a pipe, or /dev/null for
 *                                           the raw port's own limit)
 *
 * `out` ends by printing its own CPU time on stderr ("cpu USER SYS", seconds).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char buf[256 * 1024];

/* Writes all of buf[0, n) to fd (the port takes at most 32 KiB per write(2)). */
static int write_all(int fd, const char *p, ssize_t n) {
  for (ssize_t at = 0; at < n;) {
    ssize_t w = write(fd, p + at, n - at);
    if (w <= 0) return perror("write"), -1;
    at += w;
  }
  return 0;
}

static int relay_out(const char *port) {
  int out = open(port, O_WRONLY);
  if (out < 0) return perror(port), 1;
  fcntl(0, F_SETPIPE_SZ, 1 << 20);
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) return perror("read"), 1;
    if (write_all(out, buf, n) < 0) return 1;
  }
}

static int relay_in(const char *port, long long want) {
  int in = open(port, O_RDONLY);
  if (in < 0) return perror(port), 1;
  fcntl(1, F_SETPIPE_SZ, 1 << 20);
  /* The port hands over one 4 KiB virtio buffer per read(2), whatever the size asked. */
  for (long long got = 0; got < want;) {
    ssize_t n = read(in, buf, want - got < 65536 ? want - got : 65536);
    if (n <= 0) return perror("read"), 1;
    if (write_all(1, buf, n) < 0) return 1;
    got += n;
  }
  return 0;
}

/* The CPU this relay used, on stderr: "cpu USER SYS" in seconds (the bench compares agentd's). */
static int with_cpu(int rc) {
  struct rusage r;
  if (getrusage(RUSAGE_SELF, &r) == 0)
    fprintf(stderr, "cpu %ld.%06ld %ld.%06ld\n", (long)r.ru_utime.tv_sec, (long)r.ru_utime.tv_usec,
            (long)r.ru_stime.tv_sec, (long)r.ru_stime.tv_usec);
  return rc;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "out") == 0) return with_cpu(relay_out(argv[2]));
  if (argc == 4 && strcmp(argv[1], "in") == 0) return relay_in(argv[2], atoll(argv[3]));
  fprintf(stderr, "usage: relay out PORT | relay in PORT BYTES\n");
  return 2;
}
