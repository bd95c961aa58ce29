/** Step 11: the /etc/profile block that puts /.msb/scripts on PATH for login shells, added once. */
import { appendText, exists, joinPath, makeDirs, readText } from "../../sys/files.ts";

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
  const profile = joinPath(root, "etc", "profile");
  const existed = exists(profile);
  const current = existed ? readText(profile) : "";
  if (current.includes(PROFILE_BEGIN)) return;
  // With the file there, so is /etc.
  if (!existed) makeDirs(joinPath(root, "etc"));
  appendText(profile, (current === "" || current.endsWith("\n") ? "" : "\n") + PROFILE_BLOCK);
}
