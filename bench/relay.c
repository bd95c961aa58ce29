/*
 * The benchmark's relays between a pipe and the port: what a program with no runtime and no
 * protocol gets when it does agentd's job, one thread.
 *
 *   dd ... | relay out /dev/vportNpM        stdout's job: 1 MiB reads from a 1 MiB pipe (as
 *                                           agentd's port thread reads), each written to the port
 *   dd ... | relay out-polled /dev/vportNpM the same, with a second thread blocked in poll(2)
 *                                           on the port for input, as an agent that must hear
 *                                           the host while it writes (what arrives is dropped);
 *                                           the port non-blocking, see write_all
 *   relay in /dev/vportNpM BYTES | cat ...  stdin's job: BYTES read from the port, 64 KiB at a
 *                                           time, written to stdout (a pipe, or /dev/null for
 *                                           the raw port's own limit)
 *
 * `out` and `out-polled` end by printing the process's CPU time on stderr ("cpu USER SYS",
 * seconds; both threads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char buf[1024 * 1024];

/* The longest a writer on a non-blocking port sleeps in poll(2) before it asks the port again. */
#define WRITABLE_RECHECK_MS 100

/* Writes all of buf[0, n) to fd (the port takes at most 32 KiB per write(2)). A non-blocking fd
   (out-polled's port) that is full is waited for in poll(2) for at most WRITABLE_RECHECK_MS at a
   time: this guest kernel can miss the wake-up of a writer while another thread polls the same
   port for input (a writer blocked in write(2) stayed asleep for good, the host having taken every
   byte; with a 2 s timeout on its poll(2), the port was found writable only when it ran out in 5
   of 43 transfers of 256 MiB). */
static int write_all(int fd, const char *p, ssize_t n) {
  for (ssize_t at = 0; at < n;) {
    ssize_t w = write(fd, p + at, n - at);
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pf = {.fd = fd, .events = POLLOUT};
      poll(&pf, 1, WRITABLE_RECHECK_MS);
      continue;
    }
    if (w <= 0) return perror("write"), -1;
    at += w;
  }
  return 0;
}

/* Waits for input on the port for ever, like agentd's reader. virtio_console has one wait queue
   per port for both directions, so each interrupt for output the host consumed wakes it too. */
static void *poll_input(void *arg) {
  int fd = *(int *)arg;
  static char drop[4096];
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, -1) < 0) continue;
    if (p.revents & POLLIN && read(fd, drop, sizeof drop) <= 0) usleep(50000);
    else if (p.revents & POLLHUP) usleep(50000);
  }
  return NULL;
}

static int relay_out(const char *port, int polled) {
  static int out;
  out = open(port, polled ? O_RDWR | O_NONBLOCK : O_WRONLY);
  if (out < 0) return perror(port), 1;
  pthread_t poller;
  if (polled && pthread_create(&poller, NULL, poll_input, &out) != 0) return perror("pthread"), 1;
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
  if (argc == 3 && strcmp(argv[1], "out") == 0) return with_cpu(relay_out(argv[2], 0));
  if (argc == 3 && strcmp(argv[1], "out-polled") == 0) return with_cpu(relay_out(argv[2], 1));
  if (argc == 4 && strcmp(argv[1], "in") == 0) return relay_in(argv[2], atoll(argv[3]));
  fprintf(stderr, "usage: relay out|out-polled PORT | relay in PORT BYTES\n");
  return 2;
}
