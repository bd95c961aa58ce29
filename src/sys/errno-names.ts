/**
 * Linux errno names by number, as Bun's node:os lists them (where two names share a number, the
 * later one, as a Map built from that list keeps: EWOULDBLOCK, EOPNOTSUPP), so that an error
 * message can name its errno without loading node:os before core.ready (src/lazy-node.ts).
 */
// prettier-ignore
export const ERRNO_NAMES: readonly (string | undefined)[] = [
  undefined, "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
  "ECHILD", "EWOULDBLOCK", "ENOMEM", "EACCES", "EFAULT", undefined, "EBUSY", "EEXIST", "EXDEV",
  "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG",
  "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG",
  "ENOLCK", "ENOSYS", "ENOTEMPTY", "ELOOP", undefined, "ENOMSG", "EIDRM", undefined, undefined,
  undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined,
  undefined, undefined, undefined, undefined, undefined, undefined, "ENOSTR", "ENODATA", "ETIME",
  "ENOSR", undefined, undefined, undefined, "ENOLINK", undefined, undefined, undefined, "EPROTO",
  "EMULTIHOP", undefined, "EBADMSG", "EOVERFLOW", undefined, undefined, undefined, undefined,
  undefined, undefined, undefined, undefined, "EILSEQ", undefined, undefined, undefined,
  "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE", "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT",
  undefined, "EOPNOTSUPP", undefined, "EAFNOSUPPORT", "EADDRINUSE", "EADDRNOTAVAIL", "ENETDOWN",
  "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN",
  undefined, undefined, "ETIMEDOUT", "ECONNREFUSED", undefined, "EHOSTUNREACH", "EALREADY",
  "EINPROGRESS", "ESTALE", undefined, undefined, undefined, undefined, undefined, "EDQUOT",
  undefined, undefined, "ECANCELED",
];
