/*
 * init: the guest's PID 1.
 *
 *   1. console and /proc: mount devtmpfs and proc, point fds 0-2 at /dev/console.
 *   2. start agentd, then load every module listed in /etc/agentd/modules (one path per line,
 *      already in dependency order: the image builder resolved it from modules.dep). The two
 *      overlap: Bun takes about as long to start under TCG as the modules take to load, and
 *      agentd needs no module before its setup. agentd gets the read end of a pipe as fd 3
 *      (AGENTD_MODULES_FD) and waits for its end of file before it sets the guest up; init
 *      closes the write end once the last module is loaded (or failed), and notes the moment in
 *      the kernel log ("init: modules loaded"), where the benchmark finds it.
 *   2b. the setup that needs no configuration, while Bun starts: before the modules, the kernel
 *      filesystems of PROTOCOL.md §8.1 besides /dev and /proc, the /dev/fd link and loopback up;
 *      after them, the runtime share (§8.2) and where the agent port is. Each is reported on the
 *      modules pipe once done in full (src/setup/init-report.ts); agentd's setup leaves those
 *      steps out and does the rest itself. Here they cost the other vCPU a few milliseconds; in
 *      agentd's setup, on the way to core.ready, they took ~50 ms under TCG (the kernel
 *      filesystems 28-35 ms, loopback up 11-12; only checking that they were there, 20-30).
 *   3. supervise: start agentd with init's own environment (the kernel's unused KEY=VALUE
 *      command-line words), reap every orphan, forward SIGTERM/SIGINT/SIGPWR to agentd, restart
 *      agentd when it dies unexpectedly (backoff; at most MAX_RESTARTS a minute), and power off
 *      cleanly when agentd exits 0 (shutdown) or AGENTD_EXIT_SETUP (fatal setup error), dies of
 *      SIGTERM or SIGINT, or ends in any way once a termination was forwarded to it: in the guest
 *      agentd takes signals only a moment after core.ready (agentd/main.ts), and a termination is
 *      never answered with a restart.
 *
 * Before the supervision loop a failure is logged and the boot goes on as far as it can; inside
 * it a failure is logged and the loop continues. PID 1 never exits: that would panic the kernel.
 * Every path that ends the guest ends in reboot(RB_POWER_OFF).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define AGENTD_PATH "/.agentd/bin/agentd"
#define MODULE_LIST "/etc/agentd/modules"
/* agentd's exit code for "setup could not be done as asked" (EX_CONFIG). */
#define AGENTD_EXIT_SETUP 78
#define MAX_RESTARTS 5
#define RESTART_WINDOW_S 60
#define MAX_BACKOFF_MS 2000
/* How long agentd has to shut down after a forwarded termination before init powers off anyway. */
#define TERMINATE_GRACE_S 10
#define MODULE_INIT_COMPRESSED_FILE 4
/* The descriptor number and variable under which agentd finds the "modules loaded" pipe. */
#define MODULES_FD 3
#define MODULES_FD_ENV "AGENTD_MODULES_FD"

extern char **environ;

/* Writes prefix and one formatted line (cut to 510 bytes, newline added) to fd, in one write. */
static int write_line(int fd, const char *prefix, const char *fmt, va_list ap) {
  char buf[520];
  size_t p = strlen(prefix);
  memcpy(buf, prefix, p);
  int n = vsnprintf(buf + p, sizeof buf - p - 1, fmt, ap);
  if (n < 0) return -1;
  if (n > (int)(sizeof buf - p - 2)) n = (int)(sizeof buf - p - 2);
  buf[p + n] = '\n';
  return write(fd, buf, p + n + 1) < 0 ? -1 : 0;
}

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  (void)write_line(2, "init: ", fmt, ap);
  va_end(ap);
}

/* One line of init's report to agentd on the modules pipe (src/setup/init-report.ts); nothing
   without a pipe (agentd then does every step itself). */
static void report(int fd, const char *fmt, ...) {
  if (fd < 0) return;
  va_list ap;
  va_start(ap, fmt);
  int r = write_line(fd, "", fmt, ap);
  va_end(ap);
  if (r < 0) say("modules pipe: %s", strerror(errno));
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 0 when mounted (or something already is: EBUSY), -1 after logging why not. */
static int mount_with(const char *src, const char *dst, const char *type, unsigned long flags,
                      const char *data) {
  mkdir(dst, 0755);
  if (mount(src, dst, type, flags, data) == 0 || errno == EBUSY) return 0;
  say("mount %s on %s: %s", type, dst, strerror(errno));
  return -1;
}

static void mount_early(const char *src, const char *dst, const char *type, unsigned long flags) {
  (void)mount_with(src, dst, type, flags, NULL);
}

/* The rest of PROTOCOL.md §8.1 with agentd's options (src/setup/steps/base-mounts.ts). */
static int kernel_filesystems(void) {
  const unsigned long kernel_fs = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
  int failed = 0;
  failed |= mount_with("sysfs", "/sys", "sysfs", kernel_fs, NULL);
  failed |= mount_with("cgroup2", "/sys/fs/cgroup", "cgroup2", kernel_fs, NULL);
  failed |= mount_with("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC | MS_RELATIME, "mode=0620,ptmxmode=0666");
  failed |= mount_with("tmpfs", "/dev/shm", "tmpfs", kernel_fs, NULL);
  if (symlink("/proc/self/fd", "/dev/fd") != 0 && errno != EEXIST) {
    say("/dev/fd: %s", strerror(errno));
    failed = -1;
  }
  return failed;
}

/* lo up; the kernel then gives it 127.0.0.1/8 and ::1/128. */
static int loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    say("loopback: socket: %s", strerror(errno));
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  int failed = 0;
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    say("loopback: SIOCGIFFLAGS: %s", strerror(errno));
    failed = -1;
  } else if (!(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
      say("loopback: SIOCSIFFLAGS: %s", strerror(errno));
      failed = -1;
    }
  }
  close(s);
  return failed;
}

/* Does both and tells agentd, one word per line on the modules pipe (src/setup/init-report.ts),
   which it has done in full; agentd skips those steps and does whatever is not reported (a failure
   here is only logged: agentd's own step then fails the boot if it cannot be done either). */
static void base_setup(int report_fd) {
  if (kernel_filesystems() == 0) report(report_fd, "kernel-filesystems");
  if (loopback_up() == 0) report(report_fd, "loopback");
}

static void setup_console(void) {
  mount_early("devtmpfs", "/dev", "devtmpfs", MS_NOSUID);
  mount_early("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (fcntl(0, F_GETFD) == -1 || fcntl(1, F_GETFD) == -1 || fcntl(2, F_GETFD) == -1) {
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd >= 0) {
      for (int i = 0; i < 3; i++) if (fcntl(i, F_GETFD) == -1) dup2(fd, i);
      if (fd > 2) close(fd);
    }
  }
  /* The workload is killed before us or agentd when memory runs out. */
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (write(fd, "-1000", 5) < 0) say("oom_score_adj: %s", strerror(errno));
    close(fd);
  }
}

/* The host's runtime share (PROTOCOL.md §8.2; agentd's RUNTIME_FS_TAG at RUNTIME_MOUNT_POINT),
   reported like base_setup's work. It needs virtiofs, so it comes after the modules. A failure is
   not logged here: agentd's own step then fails the boot with the reason on the console. */
static void runtime_share(int report_fd) {
  mkdir("/.msb", 0755);
  if (mount("msb_runtime", "/.msb", "virtiofs", 0, NULL) == 0) report(report_fd, "runtime-share");
}

/* The device node of the virtio port named "agent" (as agentd's src/agent/port/find-port.ts finds
   it), reported as "port <path>" so that agentd need not look. virtio_console may add the port a
   little after its module is loaded; then nothing is reported and agentd looks itself. */
static void agent_port(int report_fd) {
  DIR *dir = opendir("/sys/class/virtio-ports");
  if (!dir) return;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[320], name[64];
    snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, name, sizeof name - 1);
    close(fd);
    if (n <= 0) continue;
    name[n] = 0;
    name[strcspn(name, "\n")] = 0;
    if (strcmp(name, "agent") != 0) continue;
    char node[300];
    snprintf(node, sizeof node, "/dev/%s", e->d_name);
    if (access(node, F_OK) == 0) report(report_fd, "port %s", node);
    break;
  }
  closedir(dir);
}

/* A line in the kernel log (dmesg), which stamps it on the scheduler's clock. */
static void kernel_note(const char *fmt, ...) {
  int kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  if (kmsg < 0) return;
  va_list ap;
  va_start(ap, fmt);
  int r = write_line(kmsg, "", fmt, ap);
  va_end(ap);
  if (r < 0) say("/dev/kmsg: %s", strerror(errno));
  close(kmsg);
}

static void load_modules(void) {
  FILE *list = fopen(MODULE_LIST, "re");
  if (!list) {
    if (errno != ENOENT) say("%s: %s", MODULE_LIST, strerror(errno));
    return;
  }
  char line[512];
  int loaded = 0;
  while (fgets(line, sizeof line, list)) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0] || line[0] == '#') continue;
    int fd = open(line, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      say("module %s: %s", line, strerror(errno));
      continue;
    }
    size_t len = strlen(line);
    int flags = (len > 3 && (strcmp(line + len - 3, ".xz") == 0 || strcmp(line + len - 4, ".zst") == 0))
                    ? MODULE_INIT_COMPRESSED_FILE : 0;
    if (syscall(SYS_finit_module, fd, "", flags) != 0 && errno != EEXIST)
      say("module %s: %s", line, strerror(errno));
    else
      loaded++;
    close(fd);
  }
  fclose(list);
  /* The kernel log has the boot's one clock: the benchmark splits boot time with this line. */
  kernel_note("init: modules loaded (%d)", loaded);
}

static void power_off(const char *why) {
  say("%s; powering off", why);
  kill(-1, SIGKILL);
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
  sync();
  reboot(RB_POWER_OFF);
  /* reboot() only returns on failure; never exit (that would panic the kernel). */
  say("reboot(RB_POWER_OFF): %s", strerror(errno));
  for (;;) pause();
}

/* modules_fd: the read end of the "modules loaded" pipe for the first start, -1 for restarts. */
static pid_t start_agentd(int restarts, const sigset_t *mask, int modules_fd) {
  pid_t pid = fork();
  if (pid < 0) {
    say("fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    sigprocmask(SIG_UNBLOCK, mask, NULL);
    setsid();
    if (modules_fd >= 0) {
      /* dup2 clears close-on-exec on the copy; when the pipe already is fd 3, clear it here. */
      int ok = modules_fd == MODULES_FD ? fcntl(MODULES_FD, F_SETFD, 0) : dup2(modules_fd, MODULES_FD);
      if (ok < 0) say("modules pipe: %s", strerror(errno));
      else setenv(MODULES_FD_ENV, "3", 1);
    }
    if (restarts > 0) {
      char value[32];
      snprintf(value, sizeof value, "%d", restarts);
      /* A restarted agentd skips setup: the guest is already set up. */
      setenv("AGENTD_RESTARTS", value, 1);
    }
    /* JavaScriptCore reads this only at start: a small heap keeps agentd in its memory budget
       (agentd would otherwise re-execute itself to set it). */
    setenv("BUN_JSC_forceRAMSize", "16777216", 0);
    setenv("BUN_JSC_useDFGJIT", "0", 0);
    /* agentd runs with --smol, whose heap collects after each 1 MiB allocated (smallHeapSize).
       Loading agentd and setting the guest up allocate ~0.9 MB; the port's 768 KiB inbox then set
       off a collection right before core.ready, 60-80 ms under TCG (JavaScriptCore's GC log).
       3 MiB: none before core.ready, fewer after; the memory tests' peaks did not rise. */
    setenv("BUN_JSC_smallHeapSize", "3145728", 0);
    /* No baseline JIT either: agentd's JavaScript is thin glue around system calls, and code the
       JIT makes must be translated again by an emulating hypervisor (QEMU's TCG) before it runs.
       Three pairs of bench runs, alternating: exec p50 14.8-18.4 against 19.8-21.5 ms, init ->
       core.ready 1.20-1.33 against 1.40-1.60 s, the transfers within their spread. */
    setenv("BUN_JSC_useBaselineJIT", "0", 0);
    char *argv[] = {AGENTD_PATH, NULL};
    execve(AGENTD_PATH, argv, environ);
    say("exec %s: %s", AGENTD_PATH, strerror(errno));
    _exit(127);
  }
  return pid;
}

int main(void) {
  /* 1. console and /proc */
  setup_console();
  if (getpid() != 1) say("warning: running as pid %d, not 1", getpid());

  /* Signals wait in the queue from here on; the supervision loop takes them. */
  sigset_t mask;
  sigemptyset(&mask);
  int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGPWR, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&mask, sigs[i]);
  sigprocmask(SIG_BLOCK, &mask, NULL);

  /* 2. agentd starts while init does the setup that needs no configuration and loads the
     modules; both ends closed after: agentd sees end of file, after init's report. */
  int modules_pipe[2] = {-1, -1};
  if (pipe2(modules_pipe, O_CLOEXEC) != 0) say("pipe2: %s (agentd starts after the modules)", strerror(errno));
  double restart_times[MAX_RESTARTS + 1] = {0};
  int restarts = 0, recent = 0;
  double restart_at = -1;
  pid_t agentd = -1;
  if (modules_pipe[0] >= 0) agentd = start_agentd(0, &mask, modules_pipe[0]);
  base_setup(modules_pipe[1]);
  load_modules();
  runtime_share(modules_pipe[1]);
  agent_port(modules_pipe[1]);
  if (modules_pipe[0] >= 0) {
    close(modules_pipe[0]);
    close(modules_pipe[1]);
    /* On CLOCK_BOOTTIME, core.ready's clock: agentd's setup ends after this (the VM tests check
       it; dmesg's own stamp is on the scheduler's clock, some milliseconds apart at boot). */
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    kernel_note("init: report sent, modules pipe closed at %lld.%09ld s", (long long)ts.tv_sec, ts.tv_nsec);
  } else {
    agentd = start_agentd(0, &mask, -1);
  }
  if (agentd < 0) restart_at = now_s() + 0.1;
  /* Set once a termination was forwarded to agentd: however it ends now, the guest powers off,
     and by this time at the latest. */
  double terminate_by = -1;

  /* 3. supervise */

  for (;;) {
    struct timespec timeout = {1, 0};
    if (restart_at >= 0) {
      double wait = restart_at - now_s();
      if (wait < 0) wait = 0;
      timeout.tv_sec = (time_t)wait;
      timeout.tv_nsec = (long)((wait - (double)timeout.tv_sec) * 1e9);
    }
    siginfo_t info;
    int sig = sigtimedwait(&mask, &info, &timeout);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGPWR) {
      if (agentd > 0) {
        kill(agentd, SIGTERM);
        if (terminate_by < 0) terminate_by = now_s() + TERMINATE_GRACE_S;
      } else {
        power_off("termination requested with no agentd running");
      }
    }

    pid_t pid;
    int status;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != agentd) continue;
      agentd = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) power_off("agentd finished");
      if (WIFEXITED(status) && WEXITSTATUS(status) == AGENTD_EXIT_SETUP)
        power_off("agentd reported a fatal setup error (see above)");
      if (terminate_by >= 0) power_off("agentd ended after a termination request");
      /* With its handlers agentd answers SIGTERM and SIGINT by shutting down and exiting 0; it
         dies of one only before it has set them (at boot, until a moment after core.ready), and
         then the sender asked for the same shutdown. */
      if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT))
        power_off("agentd ended by a termination signal before it took signals");
      if (WIFEXITED(status)) say("agentd exited with status %d", WEXITSTATUS(status));
      else say("agentd killed by signal %d", WTERMSIG(status));

      double t = now_s();
      recent = 0;
      for (int i = 0; i < MAX_RESTARTS; i++) if (restart_times[i] > 0 && t - restart_times[i] < RESTART_WINDOW_S) recent++;
      if (recent >= MAX_RESTARTS) power_off("agentd keeps dying (5 restarts within a minute)");
      restart_times[restarts % MAX_RESTARTS] = t;
      int backoff = 100 << (recent < 5 ? recent : 5);
      if (backoff > MAX_BACKOFF_MS) backoff = MAX_BACKOFF_MS;
      restart_at = t + backoff / 1000.0;
    }

    if (terminate_by >= 0 && now_s() >= terminate_by)
      power_off("agentd did not end within 10 s of a termination request");

    if (restart_at >= 0 && now_s() >= restart_at) {
      restarts++;
      say("restarting agentd (restart %d)", restarts);
      agentd = start_agentd(restarts, &mask, -1);
      restart_at = agentd > 0 ? -1 : now_s() + 1;
    }
  }
}
