import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { EXIT, loadConfig, UsageError, validateConfig, type Schema } from '@agekit/dataset';
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

/** One `agekit <name>` command (its name and one-line summary are its entry in commands/index.ts). */
export interface CliCommand {
  /** The rest of `agekit <name> --help`: arguments and flags. */
  usage: string;
  options: OptionSpec;
  /** Returns the exit code. Throw UsageError for bad usage; any other error exits 1. */
  run(ctx: CommandContext): Promise<number>;
}

/** Flags that take a value (read with stringFlag, numberFlag, wholeNumberFlag, choiceFlag, pathFlag). */
export function valueFlags(...names: string[]): OptionSpec {
  return Object.fromEntries(names.map((name) => [name, { type: 'string' as const }]));
}

/** Flags without a value: false unless given. */
export function switchFlags(...names: string[]): OptionSpec {
  return Object.fromEntries(names.map((name) => [name, { type: 'boolean' as const, default: false }]));
}

/** Flags every stage command takes (see DESIGN.md): merge into a command's own options. */
export const COMMON_OPTIONS: OptionSpec = {
  ...valueFlags('config', 'data', 'out', 'seed'),
  ...switchFlags('json', 'strict'),
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

/** Read a flag as a whole number >= min (and <= max), or undefined; anything else is a UsageError. */
export function wholeNumberFlag(ctx: CommandContext, name: string, min: number, max = Infinity): number | undefined {
  const n = numberFlag(ctx, name);
  if (n !== undefined && !(Number.isInteger(n) && n >= min && n <= max)) {
    throw new UsageError(`--${name} must be a whole number ${max === Infinity ? `>= ${min}` : `in ${min}..${max}`} (got ${n})`);
  }
  return n;
}

/** Read a flag that names one of `choices`, else `fallback`; anything else is a UsageError. */
export function choiceFlag<T extends string>(ctx: CommandContext, name: string, choices: readonly T[], fallback: T): T {
  const value = stringFlag(ctx, name) ?? fallback;
  if (!choices.includes(value as T)) throw new UsageError(`--${name} must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)} (got '${value}')`);
  return value as T;
}

/** A path flag resolved against the working folder, or undefined (also when empty). */
export function pathFlag(ctx: CommandContext, name: string): string | undefined {
  const value = stringFlag(ctx, name);
  return value ? path.resolve(ctx.cwd, value) : undefined;
}

/**
 * A stage config: the file of `flag` (an unreadable or invalid one is a ConfigError), else `fallback` under the
 * working folder when it exists, else the schema's defaults. `file` is the one read, if any.
 */
export async function readStageConfig<T>(ctx: CommandContext, schema: Schema, fallback: string, flag = 'config'): Promise<{ config: T; file?: string }> {
  const given = pathFlag(ctx, flag);
  const file = given ?? path.join(ctx.cwd, fallback);
  if (given || existsSync(file)) return { config: await loadConfig<T>(file, schema), file };
  return { config: validateConfig<T>({}, schema, '<defaults>') };
}

/** "1 image", "3 images". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Print the error line and give the failed exit code (1). */
export function failed(ctx: CommandContext, message: string): number {
  ctx.term.error(message);
  return EXIT.failed;
}
