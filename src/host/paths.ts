/**
 * Where the host tools find the project's files: the repository root (the parent of dist/ for
 * the compiled agentctl, of src/ when run from source) and the cache of downloaded packages and
 * built images (`.cache/`, or $AGENTD_CACHE).
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

function findRoot(): string {
  const candidates = [dirname(dirname(process.execPath)), resolve(import.meta.dir, "..", "..")];
  for (const c of candidates)
    if (existsSync(join(c, "package.json")) && existsSync(join(c, "init"))) return c;
  return process.cwd();
}

export const PROJECT_ROOT = findRoot();
export const CACHE_DIR = process.env["AGENTD_CACHE"] ?? join(PROJECT_ROOT, ".cache");
export const DIST_DIR = join(PROJECT_ROOT, "dist");
/** The default image, built by `agentctl image build` without --out. */
export const DEFAULT_IMAGE_DIR = join(CACHE_DIR, "image");
