/**
 * Test helpers for the safety suite: run the BUILT apps as child processes (what a user runs, and the only way to
 * SIGKILL a stage), snapshot a sandbox folder (every path, with a content hash) and compare two snapshots.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';

export const WORKSPACE = path.resolve(__dirname, '..', '..', '..');

/** The bundled apps (`nx run-many -t build -p cli trainer exporter`): the safety test target depends on their builds. */
export const APPS = {
  cli: path.join(WORKSPACE, 'dist', 'apps', 'cli', 'main.js'),
  trainer: path.join(WORKSPACE, 'dist', 'apps', 'trainer', 'main.js'),
  exporter: path.join(WORKSPACE, 'dist', 'apps', 'exporter', 'main.js'),
} as const;

export type AppName = keyof typeof APPS;

export function assertAppsBuilt(): void {
  const missing = Object.values(APPS).filter((file) => !existsSync(file));
  if (missing.length) throw new Error(`not built: ${missing.join(', ')} (run: npx nx run-many -t build -p cli trainer exporter)`);
}

export interface AppRun {
  app: AppName;
  args: string[];
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** A running app whose output is collected as it comes. */
export interface RunningApp {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<AppRun>;
}

/** Environment of every run: no colours, no TTY progress bars, and no native-addon overrides from the caller. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  delete env['JEST_WORKER_ID'];
  return env;
}

export function startApp(app: AppName, args: string[], cwd: string, timeoutMs = 150_000): RunningApp {
  const started = performance.now();
  const child = spawn(process.execPath, [APPS[app], ...args], { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // a hung stage (a followed symlink loop, a deadlock) must fail its test, not the whole suite
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<AppRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ app, args, code, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

export function runApp(app: AppName, args: string[], cwd: string, timeoutMs?: number): Promise<AppRun> {
  return startApp(app, args, cwd, timeoutMs).done;
}

/** What a run printed, for assertion messages. */
export function describeRun(run: AppRun): string {
  const tail = (s: string) => (s.length > 1500 ? `...${s.slice(-1500)}` : s);
  return `${run.app} ${run.args.join(' ')} -> code ${run.code}${run.signal ? ` (${run.signal})` : ''} in ${run.seconds.toFixed(1)} s\nstderr:\n${tail(run.stderr)}\nstdout:\n${tail(run.stdout)}`;
}

/** The JSON document a `--json` run printed on stdout (the last line that parses), or undefined. */
export function jsonOutput<T = Record<string, unknown>>(run: AppRun): T | undefined {
  const text = run.stdout.trim();
  try {
    return JSON.parse(text) as T;
  } catch {
    for (const line of text.split('\n').reverse()) {
      try {
        return JSON.parse(line) as T;
      } catch {
        continue;
      }
    }
  }
  return undefined;
}

/** Lines of a stack trace in a program's output. */
export function stackLines(text: string): string[] {
  return text.split('\n').filter((line) => /^\s+at /.test(line));
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Every path under `root` (relative, '/'-separated) -> 'dir', 'file <sha256>' or 'link -> <target>'. Symlinks are
 * recorded, never followed, so a loop or a link leaving the sandbox is seen as itself. `hash: false` lists names only
 * (cheap enough to poll).
 */
export async function snapshotTree(root: string, options: { hash?: boolean } = {}): Promise<Map<string, string>> {
  const hash = options.hash ?? true;
  const out = new Map<string, string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const id = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isSymbolicLink()) out.set(id, `link -> ${await fs.readlink(full)}`);
      else if (entry.isDirectory()) {
        out.set(id, 'dir');
        await walk(full, id);
      } else if (entry.isFile()) out.set(id, hash ? `file ${sha256(await fs.readFile(full))}` : 'file');
      else out.set(id, 'other');
    }
  };
  await walk(root, '');
  return out;
}

export interface TreeDiff {
  added: string[];
  changed: string[];
  removed: string[];
}

export function diffTrees(before: Map<string, string>, after: Map<string, string>): TreeDiff {
  const diff: TreeDiff = { added: [], changed: [], removed: [] };
  for (const [p, v] of after) {
    const old = before.get(p);
    if (old === undefined) diff.added.push(p);
    else if (old !== v) diff.changed.push(p);
  }
  for (const p of before.keys()) if (!after.has(p)) diff.removed.push(p);
  return diff;
}

const isUnder = (p: string, prefix: string): boolean => p === prefix || p.startsWith(`${prefix}/`);

/**
 * Paths of a diff outside a stage's declared outputs (relative to the sandbox). A new folder that is an ancestor of
 * an output (out/, out/csv/) is allowed: an output needs its parent.
 */
export function writesOutside(diff: TreeDiff, outputs: string[], after: Map<string, string>): string[] {
  const allowed = (p: string) => outputs.some((o) => isUnder(p, o));
  const ancestorDir = (p: string) => after.get(p) === 'dir' && outputs.some((o) => o.startsWith(`${p}/`));
  return [
    ...diff.added.filter((p) => !allowed(p) && !ancestorDir(p)).map((p) => `added ${p}`),
    ...diff.changed.filter((p) => !allowed(p)).map((p) => `changed ${p}`),
    ...diff.removed.filter((p) => !allowed(p)).map((p) => `removed ${p}`),
  ];
}

/** Temporary files or folders a stage left behind (`x.tmp-123`, `.x.tmp-1-2`, `.resampled_dataset.tmp-9`, ...). */
export function temporaryLeftovers(snapshot: Map<string, string>): string[] {
  return [...snapshot.keys()].filter((p) => {
    const base = p.slice(p.lastIndexOf('/') + 1);
    return /\.tmp-/.test(base) || /^\..*tmp/i.test(base);
  });
}

/** Only the entries of a snapshot under `prefix` (relative to it). */
export function subtree(snapshot: Map<string, string>, prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [p, v] of snapshot) if (p.startsWith(`${prefix}/`)) out.set(p.slice(prefix.length + 1), v);
  return out;
}

/**
 * Rows of a CSV a stage wrote, parsed by csv-parse (not by agekit's own reader, so a writer bug is not hidden by the
 * matching reader bug).
 */
export async function readCsvRows(file: string): Promise<Record<string, string>[]> {
  return parse(await fs.readFile(file, 'utf8'), { columns: true, bom: true, skip_empty_lines: true }) as Record<string, string>[];
}

/** The image format a file's first bytes say, or undefined. */
export function magicFormat(bytes: Uint8Array): 'jpeg' | 'png' | 'gif' | 'webp' | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x38) return 'gif';
  if (Buffer.from(bytes.subarray(0, 4)).toString('latin1') === 'RIFF' && Buffer.from(bytes.subarray(8, 12)).toString('latin1') === 'WEBP') return 'webp';
  return undefined;
}

/** The format a file name's extension promises. */
export function extensionFormat(file: string): 'jpeg' | 'png' | 'gif' | 'webp' | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') return 'jpeg';
  if (ext === '.png') return 'png';
  if (ext === '.gif') return 'gif';
  if (ext === '.webp') return 'webp';
  return undefined;
}

/** A list cut to its first `n` items plus a count of the rest, so a failed assertion stays readable. */
export function firstOf<T>(list: T[], n = 12): Array<T | string> {
  return list.length <= n ? list : [...list.slice(0, n), `... and ${list.length - n} more`];
}

/** Poll `condition` every `everyMs` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return condition();
}
