import type { ParseArgsConfig } from 'node:util';
import { UsageError } from '@agekit/dataset';
import type { Terminal } from './terminal';

// the exit codes and the usage error every agekit app shares
export { EXIT, UsageError } from '@agekit/dataset';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CommandContext {
  /** Parsed flag values (strings/booleans as declared in `options`). */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  term: Terminal;
  /** Workspace root (process.cwd() unless overridden). */
  cwd: string;
}

export interface CliCommand {
  name: string;
  /** One line for `agekit --help`. */
  summary: string;
  /** The rest of `agekit <name> --help`: arguments and flags. */
  usage: string;
  options: OptionSpec;
  /** Returns the exit code. Throw UsageError for bad usage; any other error exits 1. */
  run(ctx: CommandContext): Promise<number>;
}

/** Flags every stage command takes (see DESIGN.md): merge into a command's own options. */
export const COMMON_OPTIONS: OptionSpec = {
  config: { type: 'string' },
  data: { type: 'string' },
  out: { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean', default: false },
  strict: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

export const COMMON_USAGE = `common flags:
  --config FILE   stage config (JSON, schema-checked)
  --data DIR      dataset folder (overrides the config)
  --out DIR       output root (default: the current folder)
  --seed N        seed for every random choice (overrides the config)
  --json          print the summary as JSON on stdout (progress goes to stderr)
  --strict        any bad input file fails the run (exit 1)
  -h, --help      this help`;

/** Read a flag as a string, or undefined. */
export function stringFlag(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Read a flag as a finite number, or undefined; a non-number is a UsageError. */
export function numberFlag(ctx: CommandContext, name: string): number | undefined {
  const v = stringFlag(ctx, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got '${v}')`);
  return n;
}
