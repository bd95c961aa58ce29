/**
 * A small option parser for agentctl: `--name value`, `--name=value`, repeatable options, boolean
 * flags, and `--` ending the options. Unknown options are usage errors that name the option.
 */
import { AgentdError, ErrorCodes } from "../../errors.ts";

export interface OptionSpec {
  /** Options that take a value; repeatable ones collect every value. */
  values?: readonly string[];
  repeatable?: readonly string[];
  flags?: readonly string[];
  /** Short aliases: `-t` → `--tty`. */
  aliases?: Readonly<Record<string, string>>;
  /** Stop at the first positional argument (for `exec CMD ARGS...`). */
  stopAtPositional?: boolean;
}

export interface Parsed {
  values: Map<string, string[]>;
  flags: Set<string>;
  positional: string[];
}

export function usageError(message: string): AgentdError {
  return new AgentdError(ErrorCodes.USAGE, message);
}

export function parseOptions(argv: readonly string[], spec: OptionSpec): Parsed {
  const out: Parsed = { values: new Map(), flags: new Set(), positional: [] };
  const values = new Set([...(spec.values ?? []), ...(spec.repeatable ?? [])]);
  const flags = new Set(spec.flags ?? []);
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    if (a === "--") {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      if (spec.stopAtPositional) {
        out.positional.push(...argv.slice(i));
        break;
      }
      out.positional.push(a);
      continue;
    }
    a = spec.aliases?.[a] ?? a;
    let name = a.replace(/^--?/, "");
    let inline: string | null = null;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (flags.has(name) && inline === null) {
      out.flags.add(name);
    } else if (values.has(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw usageError(`--${name} needs a value`);
      if (!spec.repeatable?.includes(name) && out.values.has(name)) throw usageError(`--${name} given twice`);
      out.values.set(name, [...(out.values.get(name) ?? []), v]);
    } else {
      throw usageError(`unknown option '${argv[i]}'`);
    }
  }
  return out;
}

export function one(p: Parsed, name: string): string | undefined {
  return p.values.get(name)?.[0];
}
