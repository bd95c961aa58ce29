/*
 * Does CLOCK_MONOTONIC ever go backwards from one CPU to another? Two threads, pinned to CPU 0
 * and CPU 1, take turns: each waits for its turn, reads the clock, checks the reading is not
 * below the one the other thread published just before, publishes its own and hands the turn
 * over. Prints "rounds N warps W worst NS" and exits 1 when any reading went backwards.
 * Usage: clock-warp ROUNDS
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static atomic_int turn;
static _Atomic long long last;
static long rounds;
static long warps;
static long long worst;

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void *side(void *arg) {
  int me = (int)(long)arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(me, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    perror("sched_setaffinity");
    exit(2);
  }
  for (long i = 0; i < rounds; i++) {
    while (atomic_load(&turn) != me) {}
    long long t = now_ns();
    long long before = atomic_load(&last);
    if (t < before) {
      warps++;
      if (before - t > worst) worst = before - t;
    }
    atomic_store(&last, t);
    atomic_store(&turn, 1 - me);
  }
  return NULL;
}

int main(int argc, char **argv) {
  rounds = argc > 1 ? atol(argv[1]) : 10000;
  pthread_t a, b;
  pthread_create(&a, NULL, side, (void *)0L);
  pthread_create(&b, NULL, side, (void *)1L);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("rounds %ld warps %ld worst %lld\n", rounds, warps, worst);
  return warps ? 1 : 0;
}
