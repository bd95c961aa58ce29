/**
 * Telling a guest that hangs before its kernel says anything from one that is only slow. The
 * default guest's console shows the firmware's lines and then nothing until something goes wrong
 * (the kernel runs with `quiet`; init and agentd print only problems before core.ready), so a
 * console that still holds nothing past the firmware long after a boot normally ends (3-10 s
 * here under TCG) is a guest that shows no sign of life. CI saw two such boots in ~20 runs of the
 * test suite (the firmware's "Booting from ROM..." and then nothing for 90 s), which no loop of
 * 60 boots reproduced; the launcher boots such a guest again once (launcher.ts).
 */

/** ANSI escape sequences the firmware writes (clear screen, reset, line wrap). */
const ESCAPES = /\x1b(\[[0-9;?]*[A-Za-z]|[A-Za-z])/g;

/** Lines the firmware prints before the kernel runs (SeaBIOS; qboot, firmware.ts, prints none). */
const FIRMWARE_LINES = ["SeaBIOS (version", "Booting from "];

/** True when the console shows anything past the firmware's own lines. */
export function pastFirmware(console: string): boolean {
  for (const raw of console.replace(ESCAPES, "").split("\n")) {
    const line = raw.trim();
    if (line === "" || FIRMWARE_LINES.some((f) => line.startsWith(f))) continue;
    return true;
  }
  return false;
}
