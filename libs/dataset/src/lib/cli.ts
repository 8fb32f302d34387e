import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import * as path from 'node:path';
import { ConfigError } from './errors';
import { OutputPathError } from './stage-output';

/**
 * What the three apps (agekit, agekit-trainer, agekit-exporter) share so they behave alike: exit codes, the usage
 * error, the exit code of an error, the version they print, and progress lines that fit the terminal.
 */

/** Exit codes of every agekit app. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Wrong flags or arguments: exits 2, with the command's usage on stderr. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The exit code an app gives for an error: 2 for bad usage, a bad config or an --out it may not use; else 1. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || error instanceof ConfigError || error instanceof OutputPathError) return EXIT.usage;
  // node:util parseArgs: an unknown flag or a missing value
  if (String((error as { code?: unknown } | undefined)?.code ?? '').startsWith('ERR_PARSE_ARGS')) return EXIT.usage;
  return EXIT.failed;
}

/** The version of the nearest package.json at or above `fromDir` that has one ('unknown' when none has). */
export function packageVersion(fromDir: string): string {
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    try {
      const version = (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version;
      if (typeof version === 'string') return version;
    } catch {
      // no (readable) package.json here: look further up
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

/** A line cut to `columns` characters (with an ellipsis), so a progress line never wraps; unchanged when columns is unknown. */
export function clipToWidth(line: string, columns: number | undefined): string {
  if (!columns || columns < 2 || line.length <= columns - 1) return line;
  return `${line.slice(0, columns - 2)}…`;
}

/** The flag values of `args` (node:util parseArgs, no positionals, strict); a bad flag is a UsageError. */
export function parseFlags(args: string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, string | boolean | string[] | undefined> {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** A flag's value as a whole number, or undefined when absent; anything else is a UsageError. */
export function integerFlag(values: Record<string, unknown>, flag: string): number | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${flag} must be an integer (got '${String(v)}')`);
  return n;
}
