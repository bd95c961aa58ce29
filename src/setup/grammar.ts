/**
 * Pure parsers of the MSB_* setup variables (PROTOCOL.md §8 grammars). Every error names the
 * variable and the part that is wrong. `parseSetup` parses and checks all of them before any
 * change is made, so a typo in the last variable cannot leave a half-configured guest.
 */
import {
  ENV_BLOCK_ROOT,
  ENV_DIR_MOUNTS,
  ENV_FILE_MOUNTS,
  ENV_HOSTNAME,
  ENV_NET,
  ENV_NET_IPV4,
  ENV_NET_IPV6,
  ENV_TMPFS,
  ENV_USER,
} from "../protocol/constants.ts";
import { parseIpv4, parseIpv6 } from "./ip.ts";

export interface BlockRoot {
  device: string;
  fstype: string | null;
}
export interface DirMount {
  tag: string;
  path: string;
  readonly: boolean;
}
export interface FileMount {
  tag: string;
  file: string;
  path: string;
  readonly: boolean;
}
export interface Tmpfs {
  path: string;
  sizeMiB: number | null;
  mode: number | null;
  noexec: boolean;
}
export interface NetLink {
  iface: string;
  mac: string;
  mtu: number;
}
export interface IpConfig {
  /** Address bytes (4 or 16). */
  addr: Uint8Array;
  prefix: number;
  gw: Uint8Array;
  dns: Uint8Array | null;
  /** The forms as given, for messages and resolv.conf. */
  text: { addr: string; gw: string; dns: string | null };
}

export interface SetupConfig {
  blockRoot: BlockRoot | null;
  dirMounts: DirMount[];
  fileMounts: FileMount[];
  hostname: string | null;
  tmpfs: Tmpfs[];
  net: NetLink | null;
  ipv4: IpConfig | null;
  ipv6: IpConfig | null;
  user: string | null;
}

/** A grammar error: `MSB_TMPFS: entry "/tmp,size=x": size must be ...`. */
export class GrammarError extends Error {
  constructor(
    readonly variable: string,
    readonly detail: string,
  ) {
    super(`${variable}: ${detail}`);
    this.name = "GrammarError";
  }
}

const q = (s: string) => JSON.stringify(s);
const TAG = /^[A-Za-z0-9_.-]{1,36}$/;
const IFACE = /^[A-Za-z0-9_.:-]{1,15}$/;
const MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
const HOSTNAME =
  /^(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

function absolutePath(v: string, path: string, what: string): string {
  if (!path.startsWith("/")) throw new GrammarError(v, `${what} ${q(path)} must be an absolute path`);
  if (path.split("/").includes("..")) throw new GrammarError(v, `${what} ${q(path)} must not contain '..'`);
  if (path.includes("\0")) throw new GrammarError(v, `${what} must not contain NUL`);
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}

function entries(value: string): string[] {
  return value.split(";").filter((e) => e.trim() !== "");
}

/** `key=value` options after the first element of a comma list. */
function options(
  v: string,
  entry: string,
  parts: string[],
  allowed: readonly string[],
  flags: readonly string[] = [],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of parts) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 && flags.includes(key)) out.set(key, "");
    else if (eq > 0 && allowed.includes(key)) {
      if (out.has(key)) throw new GrammarError(v, `entry ${q(entry)}: ${key} given twice`);
      out.set(key, part.slice(eq + 1));
    } else
      throw new GrammarError(
        v,
        `entry ${q(entry)}: unknown option ${q(part)} (allowed: ${[...allowed.map((a) => a + "="), ...flags].join(", ")})`,
      );
  }
  return out;
}

export function parseBlockRoot(value: string): BlockRoot {
  const v = ENV_BLOCK_ROOT;
  const [device, ...rest] = value.split(",");
  if (!device) throw new GrammarError(v, "missing device (expected device[,fstype=T])");
  absolutePath(v, device, "device");
  const opts = options(v, value, rest, ["fstype"]);
  const fstype = opts.get("fstype") ?? null;
  if (fstype !== null && !/^[a-z0-9_.]{1,32}$/.test(fstype))
    throw new GrammarError(v, `fstype ${q(fstype)} is not a filesystem type name`);
  return { device, fstype };
}

export function parseDirMounts(value: string): DirMount[] {
  const v = ENV_DIR_MOUNTS;
  return entries(value).map((entry) => {
    const parts = entry.split(":");
    if (parts.length < 2 || parts.length > 3)
      throw new GrammarError(v, `entry ${q(entry)}: expected tag:/path[:ro]`);
    const [tag, path, flag] = parts as [string, string, string?];
    if (!TAG.test(tag)) throw new GrammarError(v, `entry ${q(entry)}: bad tag ${q(tag)}`);
    if (flag !== undefined && flag !== "ro")
      throw new GrammarError(v, `entry ${q(entry)}: unknown flag ${q(flag)} (only 'ro')`);
    return { tag, path: absolutePath(v, path, `entry ${q(entry)}: path`), readonly: flag === "ro" };
  });
}

export function parseFileMounts(value: string): FileMount[] {
  const v = ENV_FILE_MOUNTS;
  return entries(value).map((entry) => {
    const parts = entry.split(":");
    if (parts.length < 3 || parts.length > 4)
      throw new GrammarError(v, `entry ${q(entry)}: expected tag:file:/path[:ro]`);
    const [tag, file, path, flag] = parts as [string, string, string, string?];
    if (!TAG.test(tag)) throw new GrammarError(v, `entry ${q(entry)}: bad tag ${q(tag)}`);
    if (!file || file.includes("/") || file === "." || file === "..")
      throw new GrammarError(v, `entry ${q(entry)}: file ${q(file)} must be a plain file name in the share`);
    if (flag !== undefined && flag !== "ro")
      throw new GrammarError(v, `entry ${q(entry)}: unknown flag ${q(flag)} (only 'ro')`);
    return { tag, file, path: absolutePath(v, path, `entry ${q(entry)}: path`), readonly: flag === "ro" };
  });
}

export function parseHostname(value: string): string {
  if (!HOSTNAME.test(value))
    throw new GrammarError(
      ENV_HOSTNAME,
      `${q(value)} is not a valid hostname (letters, digits, '-' and '.', at most 64)`,
    );
  return value;
}

export function parseTmpfs(value: string): Tmpfs[] {
  const v = ENV_TMPFS;
  return entries(value).map((entry) => {
    const [path, ...rest] = entry.split(",");
    const opts = options(v, entry, rest, ["size", "mode"], ["noexec"]);
    const size = opts.get("size");
    const mode = opts.get("mode");
    if (size !== undefined && !/^[1-9]\d{0,6}$/.test(size))
      throw new GrammarError(v, `entry ${q(entry)}: size must be a whole number of MiB, got ${q(size)}`);
    if (mode !== undefined && !/^[0-7]{1,4}$/.test(mode))
      throw new GrammarError(v, `entry ${q(entry)}: mode must be octal (e.g. 1777), got ${q(mode)}`);
    return {
      path: absolutePath(v, path ?? "", `entry ${q(entry)}: path`),
      sizeMiB: size === undefined ? null : Number(size),
      mode: mode === undefined ? null : parseInt(mode, 8),
      noexec: opts.has("noexec"),
    };
  });
}

export function parseNet(value: string): NetLink {
  const v = ENV_NET;
  const opts = options(v, value, value.split(","), ["iface", "mac", "mtu"]);
  const iface = opts.get("iface");
  const mac = opts.get("mac");
  const mtu = opts.get("mtu");
  if (!iface) throw new GrammarError(v, "missing iface=NAME");
  if (!IFACE.test(iface)) throw new GrammarError(v, `iface ${q(iface)} is not an interface name`);
  if (!mac) throw new GrammarError(v, "missing mac=AA:BB:CC:DD:EE:FF");
  if (!MAC.test(mac)) throw new GrammarError(v, `mac ${q(mac)} is not six hex pairs separated by ':'`);
  if (mtu !== undefined && (!/^\d{2,5}$/.test(mtu) || Number(mtu) < 68 || Number(mtu) > 65535)) {
    throw new GrammarError(v, `mtu must be a number from 68 to 65535, got ${q(mtu)}`);
  }
  return { iface, mac: mac.toLowerCase(), mtu: mtu === undefined ? 1500 : Number(mtu) };
}

function parseIp(v: string, value: string, family: 4 | 6): IpConfig {
  const parse = family === 4 ? parseIpv4 : parseIpv6;
  const maxPrefix = family === 4 ? 32 : 128;
  const opts = options(v, value, value.split(","), ["addr", "gw", "dns"]);
  const addr = opts.get("addr");
  const gw = opts.get("gw");
  const dns = opts.get("dns") ?? null;
  if (!addr) throw new GrammarError(v, `missing addr=ADDRESS/PREFIX`);
  const slash = addr.indexOf("/");
  if (slash < 0) throw new GrammarError(v, `addr ${q(addr)} needs a prefix length (/N)`);
  const a = parse(addr.slice(0, slash));
  if (!a) throw new GrammarError(v, `addr ${q(addr.slice(0, slash))} is not an IPv${family} address`);
  const p = addr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > maxPrefix)
    throw new GrammarError(v, `prefix ${q(p)} must be 0..${maxPrefix}`);
  if (!gw) throw new GrammarError(v, `missing gw=ADDRESS`);
  const g = parse(gw);
  if (!g) throw new GrammarError(v, `gw ${q(gw)} is not an IPv${family} address`);
  const d = dns === null ? null : parse(dns);
  if (dns !== null && !d) throw new GrammarError(v, `dns ${q(dns)} is not an IPv${family} address`);
  return { addr: a, prefix: Number(p), gw: g, dns: d, text: { addr: addr.slice(0, slash), gw, dns } };
}

export const parseIpv4Config = (value: string) => parseIp(ENV_NET_IPV4, value, 4);
export const parseIpv6Config = (value: string) => parseIp(ENV_NET_IPV6, value, 6);

export function parseUserSpec(value: string): string {
  const t = value.trim();
  if (!/^[A-Za-z0-9_.-][A-Za-z0-9_.$-]*(:[A-Za-z0-9_.-][A-Za-z0-9_.$-]*)?$/.test(t)) {
    throw new GrammarError(ENV_USER, `${q(value)} is not USER, UID, USER:GROUP or UID:GID`);
  }
  return t;
}

/** Parses every variable; returns all grammar errors at once, or the whole config. */
export function parseSetup(
  env: Readonly<Record<string, string | undefined>>,
): { ok: true; config: SetupConfig } | { ok: false; errors: GrammarError[] } {
  const errors: GrammarError[] = [];
  const get = <T>(name: string, parse: (v: string) => T, fallback: T): T => {
    const value = env[name];
    if (value === undefined || value === "") return fallback;
    try {
      return parse(value);
    } catch (e) {
      if (e instanceof GrammarError) errors.push(e);
      else throw e;
      return fallback;
    }
  };
  const config: SetupConfig = {
    blockRoot: get(ENV_BLOCK_ROOT, parseBlockRoot, null),
    dirMounts: get(ENV_DIR_MOUNTS, parseDirMounts, []),
    fileMounts: get(ENV_FILE_MOUNTS, parseFileMounts, []),
    hostname: get(ENV_HOSTNAME, parseHostname, null),
    tmpfs: get(ENV_TMPFS, parseTmpfs, []),
    net: get(ENV_NET, parseNet, null),
    ipv4: get(ENV_NET_IPV4, parseIpv4Config, null),
    ipv6: get(ENV_NET_IPV6, parseIpv6Config, null),
    user: get(ENV_USER, parseUserSpec, null),
  };
  for (const name of [ENV_NET_IPV4, ENV_NET_IPV6]) {
    if (env[name] && !env[ENV_NET])
      errors.push(new GrammarError(name, `needs ${ENV_NET} (the interface to configure)`));
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}
