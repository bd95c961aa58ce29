/**
 * Builds a child's environment (PROTOCOL.md §7): agentd's environment, then the request's
 * `K=V` entries in order (later wins, entries without `=` skipped), /.msb/scripts put first on
 * PATH, HOME from the user's passwd entry unless the request set it. Pure.
 */

export const FALLBACK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function buildEnv(
  base: Readonly<Record<string, string>>,
  requestEnv: readonly string[],
  scriptsPath: string,
  home: string | null,
): Record<string, string> {
  const env: Record<string, string> = { ...base };
  let sawPath = false;
  let sawHome = false;
  for (const entry of requestEnv) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    let value = entry.slice(eq + 1);
    if (key === "PATH" && !sawPath) {
      sawPath = true;
      value = value === "" ? scriptsPath : `${scriptsPath}:${value}`;
    }
    if (key === "HOME") sawHome = true;
    env[key] = value;
  }
  if (!sawPath) env["PATH"] = `${scriptsPath}:${base["PATH"] || FALLBACK_PATH}`;
  if (!sawHome && home !== null) env["HOME"] = home;
  return env;
}
