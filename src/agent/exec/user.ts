/**
 * Resolves the user of an exec request from the guest's /etc/passwd and /etc/group text: the
 * forms NAME, UID, NAME:GROUP and UID:GID (PROTOCOL.md §7). Pure: the caller reads the files, so
 * the files of a switched root are the ones used and tests run on fixture text.
 */
import { agentdError, err, ErrorCodes, ok, type Result } from "../../errors.ts";

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Who a command runs as. `groups` are the supplementary groups to set (never inherited). */
export interface Identity {
  uid: number;
  gid: number;
  groups: number[];
  /** Home directory from passwd; null for a uid passwd does not know. */
  home: string | null;
}

/*
 * Plain loops and character checks, no regular expression and no filter()/map(): a guest's
 * first exec parses these files, and those are compiled on their first use (a regular
 * expression's first match, each array builtin's first call); under TCG that first exec spent
 * 28 ms reading and parsing the two files (docs/performance.md).
 */

/** 1-10 decimal digits (an id that fits the kernel's 32 bits is checked by the caller). */
function isId(s: string): boolean {
  if (s.length === 0 || s.length > 10) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** The `:`-separated fields of each line that is not blank or a comment and has `min` of them. */
function fields(text: string, min: number): string[][] {
  const out: string[][] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length >= min) out.push(f);
  }
  return out;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  const rows = fields(text, 7);
  for (let i = 0; i < rows.length; i++) {
    const f = rows[i]!;
    if (isId(f[2]!) && isId(f[3]!))
      out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  const rows = fields(text, 4);
  for (let i = 0; i < rows.length; i++) {
    const f = rows[i]!;
    if (!isId(f[2]!)) continue;
    const members: string[] = [];
    const listed = f[3]!.split(",");
    for (let j = 0; j < listed.length; j++) {
      const m = listed[j]!.trim();
      if (m !== "") members.push(m);
    }
    out.push({ name: f[0]!, gid: Number(f[2]), members });
  }
  return out;
}

/** initgroups(3): the primary gid plus every group that lists the user as a member. */
function supplementary(name: string, gid: number, groups: GroupEntry[]): number[] {
  const out = [gid];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (g.members.includes(name) && !out.includes(g.gid)) out.push(g.gid);
  }
  return out;
}

/** The first entry whose `key` is `value` (a loop: find() is compiled on its first call). */
function entryBy<T, K extends keyof T>(entries: readonly T[], key: K, value: T[K]): T | undefined {
  for (let i = 0; i < entries.length; i++) if (entries[i]![key] === value) return entries[i];
  return undefined;
}

function lookupGroup(spec: string, groups: GroupEntry[]): Result<number> {
  if (isId(spec)) return ok(Number(spec));
  const g = entryBy(groups, "name", spec);
  return g ? ok(g.gid) : err(agentdError(ErrorCodes.USER, `unknown group '${spec}'`));
}

/** Resolves a user spec; a null spec means root (uid 0, which needs no passwd entry). */
export function resolveUser(
  spec: string | null,
  passwd: PasswdEntry[],
  groups: GroupEntry[],
): Result<Identity> {
  const trimmed = (spec ?? "0").trim();
  if (trimmed === "") return err(agentdError(ErrorCodes.USER, "empty user"));
  const colon = trimmed.indexOf(":");
  const userPart = (colon < 0 ? trimmed : trimmed.slice(0, colon)).trim();
  const groupPart = colon < 0 ? null : trimmed.slice(colon + 1).trim();
  if (userPart === "") return err(agentdError(ErrorCodes.USER, `missing user in '${trimmed}'`));
  if (groupPart === "") return err(agentdError(ErrorCodes.USER, `missing group in '${trimmed}'`));

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (isId(userPart)) {
    uid = Number(userPart);
    if (uid > 0xfffffffe) return err(agentdError(ErrorCodes.USER, `uid out of range: ${userPart}`));
    entry = entryBy(passwd, "uid", uid);
  } else {
    entry = entryBy(passwd, "name", userPart);
    if (!entry) return err(agentdError(ErrorCodes.USER, `unknown user '${userPart}'`));
    uid = entry.uid;
  }

  let gid = entry?.gid ?? 0;
  if (groupPart !== null) {
    const g = lookupGroup(groupPart, groups);
    if (!g.ok) return g;
    gid = g.value;
  }
  return ok({
    uid,
    gid,
    groups: entry ? supplementary(entry.name, gid, groups) : [],
    home: entry?.home ?? null,
  });
}
