/*
 * agentctl-splice: the relay's data path for one client (see relay.ts). Moves bytes between fd 3
 * (the client's socket) and fd 4 (QEMU's socket for the agent port) with splice(2) through two
 * pipes, so no byte passes through user space. First it copies what the relay had already read,
 * from fd 0: a 32-bit little-endian length, that many bytes for the client (the core.ready frame
 * and anything after it), then the rest, to its end, for QEMU.
 *
 * Why: the relay forwarding in JavaScript (node:net pipes) cost 0.35-0.44 s of host CPU per 256
 * MiB and its latency held QEMU back: guest stdout and fs read were 20-28% faster with a client
 * connected straight to QEMU's socket, and a splice loop got the same rates as that direct
 * connection with 0.13 s of CPU per 256 MiB.
 *
 * Ends when either side ends or fails, after handing the other side what its pipe still holds (a
 * client that left gets CLIENT_GONE_WAIT_MS to take it); the relay then closes both connections.
 * Exit status 0, or 1 when it could not start.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CLIENT 3
#define UPSTREAM 4
/* Each direction's pipe: a few virtio buffers' worth beyond the socket buffers. */
#define PIPE_SIZE (1 << 20)
/*
 * While the guest streams to the host, QEMU writes each 32 KiB virtio buffer to its socket as it
 * comes, and a loop that wakes for each one takes a host core from QEMU's vCPUs thousands of
 * times per 256 MiB (the host has two cores and QEMU keeps them busy). So after a splice from QEMU
 * that moved a bulk-sized but not large amount, the loop naps NAP_US before polling again and then
 * moves what gathered meanwhile. One guest, 5 rounds of 256 MiB of stdout, alternating: 191.7 MB/s
 * without the nap, 212.6 with it, 210.2 with the client straight on QEMU's socket (600 µs: 194.9
 * and 215.9 against 225.0 direct). Small frames (answers, echoes) cause no nap (below NAP_FROM);
 * one that comes during a nap waits at most NAP_US. A splice of NAP_BELOW or more means the data already comes faster than the loop wakes
 * (KVM): no nap then, so the nap cannot cap a fast stream at QEMU's socket buffer per nap.
 */
#define NAP_US 300
#define NAP_FROM (32 * 1024)
#define NAP_BELOW (128 * 1024)
/*
 * A client that ends its side has left: nothing more is read from QEMU for it, and what the pipe
 * still holds for it goes to it only while it takes some within CLIENT_GONE_WAIT_MS. A client
 * that had stopped reading (AgentClient pauses its socket while its consumers hold too much
 * unread output) kept the helper reading QEMU and waiting for it for ever, and the guest never
 * heard that its host had left (seen in CI: a client leaving mid-stream, 1 round in 20 here).
 */
#define CLIENT_GONE_WAIT_MS 2000

struct direction {
  int from, to;
  int pipe[2];
  size_t held; /* bytes in the pipe */
  int ended;   /* `from` reached its end or failed */
};

static int write_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      poll(&p, 1, -1);
      continue;
    }
    if (w <= 0) return -1;
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Copies `limit` bytes (or all, to the end, when limit is -1) from fd 0 into `to`. */
static int copy_pending(int to, long long limit) {
  char buf[65536];
  while (limit != 0) {
    size_t want = limit < 0 || limit > (long long)sizeof buf ? sizeof buf : (size_t)limit;
    ssize_t n = read(0, buf, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return limit < 0 ? 0 : -1;
    if (write_all(to, buf, (size_t)n) != 0) return -1;
    if (limit > 0) limit -= n;
  }
  return 0;
}

/* What the relay read before the hand-over goes first, in order (see the top of this file). */
static int send_pending(void) {
  unsigned char head[4];
  size_t have = 0;
  while (have < sizeof head) {
    ssize_t n = read(0, head + have, sizeof head - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    have += (size_t)n;
  }
  long long for_client = (long long)head[0] | (long long)head[1] << 8 | (long long)head[2] << 16 |
                         (long long)head[3] << 24;
  return copy_pending(CLIENT, for_client) == 0 && copy_pending(UPSTREAM, -1) == 0 ? 0 : -1;
}

/* Moves what it can now: socket into pipe (while there is room), pipe into the other socket. */
static size_t pump(struct direction *d, short in_events, short out_events) {
  size_t moved = 0;
  if (!d->ended && d->held < PIPE_SIZE && (in_events & (POLLIN | POLLHUP | POLLERR))) {
    ssize_t n = splice(d->from, NULL, d->pipe[1], NULL, PIPE_SIZE - d->held,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) d->held += (size_t)n, moved = (size_t)n;
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) d->ended = 1;
  }
  if (d->held > 0 && (out_events & (POLLOUT | POLLERR | POLLHUP))) {
    ssize_t n = splice(d->pipe[0], NULL, d->to, NULL, d->held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) d->held -= (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR) d->held = 0, d->ended = 1;
  }
  return moved;
}

int main(void) {
  if (send_pending() != 0) {
    fprintf(stderr, "agentctl-splice: cannot hand over the first bytes: %s\n", strerror(errno));
    return 1;
  }
  struct direction up = {.from = UPSTREAM, .to = CLIENT}, down = {.from = CLIENT, .to = UPSTREAM};
  if (pipe2(up.pipe, O_NONBLOCK | O_CLOEXEC) != 0 || pipe2(down.pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    fprintf(stderr, "agentctl-splice: pipe: %s\n", strerror(errno));
    return 1;
  }
  fcntl(up.pipe[1], F_SETPIPE_SZ, PIPE_SIZE);
  fcntl(down.pipe[1], F_SETPIPE_SZ, PIPE_SIZE);
  fcntl(CLIENT, F_SETFL, fcntl(CLIENT, F_GETFL) | O_NONBLOCK);
  fcntl(UPSTREAM, F_SETFL, fcntl(UPSTREAM, F_GETFL) | O_NONBLOCK);
  /* One side ending ends the connection (as the relay's own forwarding did), once what the
     other side is still owed has gone to it. */
  while (!((up.ended || down.ended) && up.held == 0 && down.held == 0)) {
    struct pollfd p[2] = {
        {.fd = UPSTREAM, .events = (short)((!up.ended && up.held < PIPE_SIZE ? POLLIN : 0) |
                                           (down.held ? POLLOUT : 0))},
        {.fd = CLIENT, .events = (short)((!down.ended && down.held < PIPE_SIZE ? POLLIN : 0) |
                                         (up.held ? POLLOUT : 0))},
    };
    /* A descriptor nothing is wanted from stays out of the poll: poll(2) reports POLLHUP whatever
       the events, and a side that hung up while its pipe was full (the other side not reading)
       would wake the loop at once, forever (seen: a helper at 100% of a core after its QEMU was
       killed under a client that had stopped reading). Its end is seen once the pipe has room. */
    for (int i = 0; i < 2; i++)
      if (p[i].events == 0) p[i].fd = -1;
    /* The wait for a client that left counts once what it sent has all gone to QEMU. */
    int ready = poll(p, 2, down.ended && down.held == 0 && up.held > 0 ? CLIENT_GONE_WAIT_MS : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) break; /* the client that left takes nothing more */
    size_t moved = pump(&up, p[0].revents, p[1].revents);
    pump(&down, p[1].revents, p[0].revents);
    if (down.ended) up.ended = 1; /* the client left: nothing more from QEMU for it */
    if (moved >= NAP_FROM && moved < NAP_BELOW) usleep(NAP_US);
  }
  return 0;
}
