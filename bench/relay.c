/*
 * The benchmark's pipe-to-port relay: what a program with no runtime at all gets when it does
 * agentd's job for stdout (read a pipe, write the bytes to the port), one thread, 256 KiB reads
 * from a 1 MiB pipe like agentd's pump. Usage: dd ... | relay /dev/vportNpM
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static char buf[256 * 1024];

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  int out = open(argv[1], O_WRONLY);
  if (out < 0) return perror(argv[1]), 1;
  fcntl(0, F_SETPIPE_SZ, 1 << 20);
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) return perror("read"), 1;
    /* The port takes at most 32 KiB per write(2). */
    for (ssize_t at = 0; at < n;) {
      ssize_t w = write(out, buf + at, n - at);
      if (w <= 0) return perror("write"), 1;
      at += w;
    }
  }
}
