/**
 * Network configuration through the kernel's own interfaces: ioctl on an ifreq for link flags,
 * MTU and MAC, and rtnetlink messages (RTM_NEWADDR, RTM_NEWROUTE) for addresses and routes. The
 * message builders are pure and tested byte by byte; the senders wait for the kernel's ack and
 * turn a negative one into a SysError naming the request and the interface.
 */
import { utf8 } from "./cstr.ts";
import { readText } from "./files.ts";
import { check, closeFd, errnoNow, libc, ptr, SysError } from "./libc.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const SOCK_DGRAM = 2;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;

export const SIOCGIFFLAGS = 0x8913;
export const SIOCGIFADDR = 0x8915;
export const SIOCSIFFLAGS = 0x8914;
export const SIOCSIFMTU = 0x8922;
export const SIOCSIFHWADDR = 0x8924;
export const IFF_UP = 0x1;
const ARPHRD_ETHER = 1;

const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
/** No duplicate address detection: an IPv6 address usable at once, never "tentative". */
export const IFA_F_NODAD = 0x02;
const IFA_F_PERMANENT = 0x80;
const RTA_GATEWAY = 5;
const RTA_OIF = 4;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;
const EEXIST = 17;
const EADDRNOTAVAIL = 99;

export function ifindex(iface: string): number {
  try {
    return Number(readText(`/sys/class/net/${iface}/ifindex`).trim());
  } catch {
    throw new SysError("if_nametoindex", iface, 19 /* ENODEV */);
  }
}

function ifreq(iface: string): Uint8Array {
  const req = new Uint8Array(40);
  req.set(utf8(iface).subarray(0, 15));
  return req;
}

function withSocket<T>(domain: number, type: number, proto: number, what: string, f: (fd: number) => T): T {
  const fd = check(libc().socket(domain, type | SOCK_CLOEXEC, proto), "socket", what);
  try {
    return f(fd);
  } finally {
    closeFd(fd);
  }
}

function ioctl(fd: number, request: number, req: Uint8Array, name: string, iface: string): void {
  check(libc().ioctl(fd, request, ptr(req)), `ioctl(${name})`, iface);
}

/** Sets or clears IFF_UP. */
export function setLinkUp(iface: string, up: boolean): void {
  withSocket(AF_INET, SOCK_DGRAM, 0, iface, (fd) => {
    const req = ifreq(iface);
    ioctl(fd, SIOCGIFFLAGS, req, "SIOCGIFFLAGS", iface);
    const view = new DataView(req.buffer);
    const flags = view.getUint16(16, true);
    const wanted = up ? flags | IFF_UP : flags & ~IFF_UP;
    // Already so (init brings lo up: init/init.c): no change for the kernel to make.
    if (wanted === flags) return;
    view.setUint16(16, wanted, true);
    ioctl(fd, SIOCSIFFLAGS, req, "SIOCSIFFLAGS", iface);
  });
}

/** The IPv4 address of `iface` (SIOCGIFADDR), or null when it has none. */
export function ipv4Address(iface: string): Uint8Array | null {
  return withSocket(AF_INET, SOCK_DGRAM, 0, iface, (fd) => {
    const req = ifreq(iface);
    // EADDRNOTAVAIL: no address; anything else is an error like any other ioctl's.
    if (libc().ioctl(fd, SIOCGIFADDR, ptr(req)) !== 0) {
      const e = errnoNow();
      if (e === EADDRNOTAVAIL) return null;
      throw new SysError("ioctl(SIOCGIFADDR)", iface, e);
    }
    // ifr_addr at 16 is a sockaddr_in: family, port, then the address.
    return req.slice(20, 24);
  });
}

/**
 * Whether /proc/net/if_inet6's text lists `addr` on `iface` (lines of the address in 32 hex
 * digits, index, prefix, scope, flags and the interface's name).
 */
export function hasInet6Address(ifInet6: string, iface: string, addr: Uint8Array): boolean {
  const hex = [...addr].map((b) => b.toString(16).padStart(2, "0")).join("");
  return ifInet6.split("\n").some((line) => {
    // Split by hand: a first regular expression costs milliseconds at boot (files.ts).
    const f = line.split(" ").filter((x) => x !== "");
    return f.length >= 6 && f[0] === hex && f[5] === iface;
  });
}

export function setMtu(iface: string, mtu: number): void {
  withSocket(AF_INET, SOCK_DGRAM, 0, iface, (fd) => {
    const req = ifreq(iface);
    new DataView(req.buffer).setInt32(16, mtu, true);
    ioctl(fd, SIOCSIFMTU, req, "SIOCSIFMTU", iface);
  });
}

export function macBytes(mac: string): Uint8Array {
  return new Uint8Array(mac.split(":").map((h) => parseInt(h, 16)));
}

export function setMac(iface: string, mac: string): void {
  withSocket(AF_INET, SOCK_DGRAM, 0, iface, (fd) => {
    const req = ifreq(iface);
    new DataView(req.buffer).setUint16(16, ARPHRD_ETHER, true);
    req.set(macBytes(mac), 18);
    ioctl(fd, SIOCSIFHWADDR, req, "SIOCSIFHWADDR", iface);
  });
}

/** Appends an rtattr (type, payload) padded to 4 bytes. */
function rtattr(type: number, payload: Uint8Array): Uint8Array {
  const len = 4 + payload.length;
  const out = new Uint8Array((len + 3) & ~3);
  const v = new DataView(out.buffer);
  v.setUint16(0, len, true);
  v.setUint16(2, type, true);
  out.set(payload, 4);
  return out;
}

function u32le(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function message(
  type: number,
  flags: number,
  seq: number,
  body: Uint8Array,
  attrs: Uint8Array[],
): Uint8Array {
  const total = 16 + body.length + attrs.reduce((n, a) => n + a.length, 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, total, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  v.setUint32(12, 0, true);
  out.set(body, 16);
  let at = 16 + body.length;
  for (const a of attrs) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

const familyOf = (addr: Uint8Array) => (addr.length === 4 ? AF_INET : AF_INET6);

/** RTM_NEWADDR for `addr/prefix` on interface `index` (IPv6 without DAD). Pure. */
export function newAddrMessage(index: number, addr: Uint8Array, prefix: number, seq = 1): Uint8Array {
  const body = new Uint8Array(8);
  body[0] = familyOf(addr);
  body[1] = prefix;
  body[2] = addr.length === 16 ? IFA_F_NODAD | IFA_F_PERMANENT : IFA_F_PERMANENT;
  body[3] = RT_SCOPE_UNIVERSE;
  new DataView(body.buffer).setUint32(4, index, true);
  const flags = addr.length === 16 ? IFA_F_NODAD | IFA_F_PERMANENT : IFA_F_PERMANENT;
  return message(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, body, [
    rtattr(IFA_LOCAL, addr),
    rtattr(IFA_ADDRESS, addr),
    rtattr(IFA_FLAGS, u32le(flags)),
  ]);
}

/** RTM_NEWROUTE for the default route via `gw` out of interface `index`. Pure. */
export function defaultRouteMessage(index: number, gw: Uint8Array, seq = 1): Uint8Array {
  const body = new Uint8Array(12);
  body[0] = familyOf(gw);
  body[1] = 0; // dst_len: the default route
  body[4] = RT_TABLE_MAIN;
  body[5] = RTPROT_BOOT;
  body[6] = RT_SCOPE_UNIVERSE;
  body[7] = RTN_UNICAST;
  return message(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, body, [
    rtattr(RTA_GATEWAY, gw),
    rtattr(RTA_OIF, u32le(index)),
  ]);
}

/**
 * Sends one rtnetlink request and waits for its ack. `allowExists` treats EEXIST as done, so a
 * step that runs again (a restarted setup, loopback's automatic 127.0.0.1) is not an error.
 */
export function rtnetlink(request: Uint8Array, what: string, subject: string, allowExists = false): void {
  withSocket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, "netlink", (fd) => {
    const sa = new Uint8Array(12);
    new DataView(sa.buffer).setUint16(0, AF_NETLINK, true);
    check(libc().bind(fd, ptr(sa), sa.length), "bind", "netlink");
    if (Number(libc().sendto(fd, ptr(request), request.length, 0, null, 0)) < 0)
      throw new SysError("sendto", `netlink ${what}`, errnoNow());
    const reply = new Uint8Array(8192);
    const n = Number(libc().recv(fd, ptr(reply), reply.length, 0));
    if (n < 0) throw new SysError("recv", `netlink ${what}`, errnoNow());
    const v = new DataView(reply.buffer);
    if (n >= 20 && v.getUint16(4, true) === NLMSG_ERROR) {
      const error = -v.getInt32(16, true);
      if (error === 0 || (allowExists && error === EEXIST)) return;
      throw new SysError(what, subject, error);
    }
  });
}
