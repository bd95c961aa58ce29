/**
 * A journal of upload temp files. An upload writes to a temp file beside its target and renames
 * it into place at the end; if agentd is killed in between, the temp file would stay forever.
 * Each temp file is recorded here before it is created and struck off once renamed or removed;
 * when agentd starts, every temp file still listed is deleted. The journal lives on the guest's
 * own root (not the host's runtime share), so it survives an agentd restart.
 */
import { appendText, exists, makeDirs, parentDir, readText, unlink, writeText } from "../../sys/files.ts";
import { log } from "../log.ts";

export class PartialJournal {
  constructor(readonly path: string) {}

  #append(line: string): void {
    try {
      appendText(this.path, line);
    } catch (e) {
      log("warn", `partials journal ${this.path}: ${(e as Error).message}`);
    }
  }

  add(temp: string): void {
    this.#append(`+${temp}\n`);
  }

  remove(temp: string): void {
    this.#append(`-${temp}\n`);
  }

  /** Deletes every temp file left by an earlier agentd; returns how many it removed. */
  cleanup(): number {
    let text = "";
    // Looked for before it is read: at a guest's first boot there is none, and a failed read's
    // error object is a long code path to run for the first time (under TCG) before core.ready.
    if (exists(this.path))
      try {
        text = readText(this.path);
      } catch {
        // Gone in between: nothing was left behind.
      }
    const open = new Set<string>();
    for (const line of text.split("\n")) {
      if (line.startsWith("+")) open.add(line.slice(1));
      else if (line.startsWith("-")) open.delete(line.slice(1));
    }
    let removed = 0;
    for (const temp of open) {
      try {
        unlink(temp);
        removed++;
        log("info", `removed the temp file of an unfinished upload: ${temp}`);
      } catch {
        // Already gone (renamed into place before the journal line was written).
      }
    }
    try {
      makeDirs(parentDir(this.path));
      writeText(this.path, "");
    } catch (e) {
      log("warn", `partials journal ${this.path}: ${(e as Error).message}`);
    }
    return removed;
  }
}
