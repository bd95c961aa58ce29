/*
 * agentd-exec: the small static helper every exec session goes through.
 *
 * Bun can set uid/gid and start a new session, but not supplementary groups or rlimits, and
 * setting limits after the spawn (prlimit) races with the child. This helper runs in the child's
 * place, applies everything in the only safe order (rlimits while still root, then groups, gid,
 * uid, then the working directory as the new user), and execs the command.
 *
 * Usage: agentd-exec [-r RES:SOFT:HARD]... [-G GID,GID,...] [-g GID] [-u UID] [-d DIR] -- CMD ARG...
 *   RES is the numeric RLIMIT_* id; SOFT and HARD are decimal u64 (2^64-1 = unlimited).
 *
 * Failure reporting: fd 3, when open, is a pipe to agentd marked close-on-exec. A successful
 * exec closes it with nothing written; any failure writes one line there ("cannot run 'x': No
 * such file or directory") and exits 127. agentd tells a failed spawn from a command that exits
 * 127 by this alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STATUS_FD 3
#define MAX_RLIMITS 32
#define MAX_GROUPS 1024

extern char **environ;

static void fail(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  /* No status pipe (run by hand): say it on stderr instead. */
  if (write(STATUS_FD, buf, n) < 0) {
    ssize_t ignored = write(2, buf, n);
    (void)ignored;
  }
  _exit(127);
}

static unsigned long long parse_u64(const char *s, const char *what) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || (*end && *end != ':' && *end != ',')) fail("bad %s: %s", what, s);
  return v;
}

/* Signals ignored or blocked by agentd (Bun ignores SIGPIPE) would be inherited across exec;
   a shell pipeline then never sees SIGPIPE. Give the command the defaults. */
static void reset_signals(void) {
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * execvp(3) as musl does it (PATH, or its default, searched in order; an empty entry is the
 * working directory; EACCES remembered and reported when nothing else is found; any error other
 * than ENOENT, ENOTDIR or EACCES ends the search), except that a directory is tried only when
 * the file is there: under TCG a failed execve(2) costs ~0.3 ms (the kernel sets up a new
 * address space before it looks up the file), and the default PATH puts six directories before
 * /bin. In guest loops of `agentd-exec -- true` this took 6.4-6.6 ms per run against 7.5-7.7
 * with execvp (busybox `true` in /bin; 5.5 with /bin/true named). Returns only on failure, with
 * errno set.
 */
static void exec_on_path(const char *file, char **argv) {
  if (!*file) {
    errno = ENOENT;
    return;
  }
  if (strchr(file, '/')) {
    execv(file, argv);
    return;
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/bin:/usr/bin";
  size_t k = strnlen(file, NAME_MAX + 1);
  if (k > NAME_MAX) {
    errno = ENAMETOOLONG;
    return;
  }
  size_t l = strnlen(path, PATH_MAX - 1) + 1;
  char b[l + k + 1];
  int seen_eacces = 0;
  int last = ENOENT;
  for (const char *p = path, *z;; p = z + 1) {
    z = strchrnul(p, ':');
    if ((size_t)(z - p) < l) {
      memcpy(b, p, (size_t)(z - p));
      b[z - p] = '/';
      memcpy(b + (z - p) + (z > p), file, k + 1);
      struct stat st;
      /* Either call's errno says why this directory did not do. */
      if (stat(b, &st) == 0) execve(b, argv, environ);
      last = errno;
      if (last == EACCES) seen_eacces = 1;
      else if (last != ENOENT && last != ENOTDIR) return;
    }
    if (!*z) break;
  }
  errno = seen_eacces ? EACCES : last;
}

int main(int argc, char **argv) {
  struct { int res; struct rlimit lim; } limits[MAX_RLIMITS];
  int nlimits = 0;
  gid_t groups[MAX_GROUPS];
  int ngroups = -1; /* -1: leave groups alone (running as ourselves) */
  long uid = -1, gid = -1;
  const char *dir = NULL;
  int i = 1;

  if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) == 0) {
    /* Everything above the status pipe is agentd's and must not reach the command. */
    if (syscall(SYS_close_range, STATUS_FD + 1, ~0U, 0) != 0) {
      for (int fd = STATUS_FD + 1; fd < 1024; fd++) close(fd);
    }
  }

  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) { i++; break; }
    if (i + 1 >= argc) fail("option %s needs a value", a);
    const char *v = argv[++i];
    if (strcmp(a, "-r") == 0) {
      if (nlimits == MAX_RLIMITS) fail("too many rlimits");
      char *c1 = strchr(v, ':');
      char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
      if (!c1 || !c2) fail("bad rlimit: %s", v);
      limits[nlimits].res = (int)parse_u64(v, "rlimit resource");
      limits[nlimits].lim.rlim_cur = parse_u64(c1 + 1, "rlimit soft");
      limits[nlimits].lim.rlim_max = parse_u64(c2 + 1, "rlimit hard");
      nlimits++;
    } else if (strcmp(a, "-G") == 0) {
      ngroups = 0;
      for (const char *p = v; *p;) {
        if (ngroups == MAX_GROUPS) fail("too many groups");
        groups[ngroups++] = (gid_t)parse_u64(p, "group");
        p = strchr(p, ',');
        if (!p) break;
        p++;
      }
    } else if (strcmp(a, "-g") == 0) {
      gid = (long)parse_u64(v, "gid");
    } else if (strcmp(a, "-u") == 0) {
      uid = (long)parse_u64(v, "uid");
    } else if (strcmp(a, "-d") == 0) {
      dir = v;
    } else {
      fail("unknown option %s", a);
    }
  }
  if (i >= argc) fail("no command given");

  reset_signals();
  /* agentd protects itself from the OOM killer and children inherit that: give the command the
     default back, so a memory hog is what the kernel kills. Raising the value needs no privilege. */
  int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (oom >= 0) {
    if (write(oom, "0", 1) < 0) { /* not fatal: the command just keeps agentd's value */ }
    close(oom);
  }
  for (int k = 0; k < nlimits; k++) {
    if (setrlimit(limits[k].res, &limits[k].lim) != 0)
      fail("cannot set rlimit %d to %llu:%llu: %s", limits[k].res,
           (unsigned long long)limits[k].lim.rlim_cur, (unsigned long long)limits[k].lim.rlim_max,
           strerror(errno));
  }
  if (ngroups >= 0 && setgroups(ngroups, groups) != 0) fail("cannot set groups: %s", strerror(errno));
  if (gid >= 0 && setgid((gid_t)gid) != 0) fail("cannot set gid %ld: %s", gid, strerror(errno));
  if (uid >= 0 && setuid((uid_t)uid) != 0) fail("cannot set uid %ld: %s", uid, strerror(errno));
  if (dir && chdir(dir) != 0) fail("cannot change directory to '%s': %s", dir, strerror(errno));

  exec_on_path(argv[i], &argv[i]);
  fail("cannot run '%s': %s", argv[i], strerror(errno));
  return 127;
}
