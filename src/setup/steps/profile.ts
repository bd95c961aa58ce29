/** Step 11: the /etc/profile block that puts /.msb/scripts on PATH for login shells, added once. */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const PROFILE_BEGIN = "# >>> microsandbox scripts path >>>";
export const PROFILE_BLOCK = [
  PROFILE_BEGIN,
  'case ":$PATH:" in',
  "  *:/.msb/scripts:*) ;;",
  '  *) export PATH="/.msb/scripts:$PATH" ;;',
  "esac",
  "# <<< microsandbox scripts path <<<",
  "",
].join("\n");

export function addProfileBlock(root = "/"): void {
  const profile = join(root, "etc", "profile");
  const current = existsSync(profile) ? readFileSync(profile, "utf8") : "";
  if (current.includes(PROFILE_BEGIN)) return;
  mkdirSync(join(root, "etc"), { recursive: true });
  appendFileSync(profile, (current === "" || current.endsWith("\n") ? "" : "\n") + PROFILE_BLOCK);
}
