/**
 * Bun's node:fs, node:fs/promises, node:os and node:path, required on first use instead of at
 * agentd's start. Each is JavaScript that Bun compiles when it is first required, and under TCG
 * that is slow enough to matter for boot-to-ready (src/sys/files.ts has the measurements); a
 * static import anywhere in agentd's bundle would load it before agentd's first line. Requests
 * that need one (fs operations, exec's user database, the stdin spill) load it then, once.
 */
import type * as Fs from "node:fs";
import type * as FsPromises from "node:fs/promises";
import type * as Os from "node:os";
import type * as Path from "node:path";

let fs: typeof Fs | undefined;
let fsPromises: typeof FsPromises | undefined;
let os: typeof Os | undefined;
let path: typeof Path | undefined;

export const nodeFs = (): typeof Fs => (fs ??= require("node:fs") as typeof Fs);
export const nodeFsPromises = (): typeof FsPromises =>
  (fsPromises ??= require("node:fs/promises") as typeof FsPromises);
export const nodeOs = (): typeof Os => (os ??= require("node:os") as typeof Os);
export const nodePath = (): typeof Path => (path ??= require("node:path") as typeof Path);
