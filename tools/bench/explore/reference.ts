import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { readCsv } from '@agekit/dataset';
import { sharedPath } from '../shared-paths';

/** The OpenCV reference of the explore stage and the Python that runs it. */
export const REFERENCE = process.env['AGEKIT_REFERENCE_EXPLORE'] ?? sharedPath('reference', 'explore_opencv.py');
export const PYTHON = process.env['AGEKIT_PYTHON'] ?? '/usr/bin/python3';
/** The workspace root: commands run from it. */
export const ROOT = path.resolve(__dirname, '../../..');

export interface RunResult {
  seconds: number;
  /** user + system CPU seconds of the command and its children (from /usr/bin/time), NaN when unavailable. */
  cpuSeconds: number;
  /** Of which system (kernel) seconds, NaN when unavailable. */
  systemSeconds: number;
  /** Minor page faults of the command and its children, NaN when unavailable. */
  minorFaults: number;
  stdout: string;
  stderr: string;
  code: number | null;
}

const TIME = '/usr/bin/time';
/** glibc keeps 64 MiB at the top of the heap when it grows, so the reference's per-image arrays reuse it (see main.ts's header). */
export const KEPT_HEAP_TUNABLE = 'glibc.malloc.top_pad=67108864';
const CPU_MARK = 'agekit-bench-cpu';

/** Run a command (under /usr/bin/time when present, for its CPU time: the machine may be shared, so wall time alone misleads). */
export function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const timed = existsSync(TIME);
    const [file, argv] = timed ? [TIME, ['-f', `${CPU_MARK} %U %S %R`, cmd, ...args]] : [cmd, args];
    const child = spawn(file, argv, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = new RegExp(`${CPU_MARK} (\\d+(?:\\.\\d+)?) (\\d+(?:\\.\\d+)?) (\\d+)`).exec(stderr);
      resolve({
        seconds: (performance.now() - started) / 1000,
        cpuSeconds: m ? Number(m[1]) + Number(m[2]) : NaN,
        systemSeconds: m ? Number(m[2]) : NaN,
        minorFaults: m ? Number(m[3]) : NaN,
        stdout,
        stderr: stderr.replace(/^.*agekit-bench-cpu.*$/m, ''),
        code,
      });
    });
  });
}

/** The environment with glibc's heap kept grown (KEPT_HEAP_TUNABLE added to any GLIBC_TUNABLES already set). */
export function keptHeapEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GLIBC_TUNABLES: [process.env['GLIBC_TUNABLES'], KEPT_HEAP_TUNABLE].filter(Boolean).join(':') };
}

/** One run of the reference over `labels` (its first `limit` rows when given), its CSV to `csv`: the run and its loop's rate (img/s). */
export async function runReference(labels: string, csv: string, limit: number | undefined, env: NodeJS.ProcessEnv): Promise<{ run: RunResult; rate: number }> {
  const result = await run(PYTHON, [REFERENCE, labels, csv, ...(limit !== undefined ? [String(limit)] : [])], { env });
  if (result.code !== 0) throw new Error(`reference failed (${result.code}): ${result.stderr}`);
  return { run: result, rate: Number(/= (\d+(?:\.\d+)?) img\/s/.exec(result.stderr)?.[1] ?? NaN) };
}

/**
 * Read the first `limit` (default all) images that `labels` names once, so no timed run pays for the first read from
 * disk; the number of images.
 */
export async function warmPageCache(labels: string, limit: number | undefined): Promise<number> {
  const rows = await readCsv(labels);
  const n = limit !== undefined ? Math.min(limit, rows.length) : rows.length;
  const dir = path.dirname(labels);
  for (const r of rows.slice(0, n)) await fs.readFile(path.join(dir, r['file'])).catch(() => undefined);
  return n;
}

/**
 * The dataset folder and its labels.csv; undefined, after printing why, when the benchmark cannot run here (no such
 * dataset, no reference or Python): a skip, not a failure.
 */
export function benchInputs(dataArg: string): { data: string; labels: string } | undefined {
  const data = path.resolve(dataArg);
  const labels = path.join(data, 'labels.csv');
  const skipped = !existsSync(labels)
    ? `${labels} not found (the benchmark needs a dataset with labels.csv, e.g. ../shared/data/utkface)`
    : !existsSync(REFERENCE) || !existsSync(PYTHON)
      ? `reference ${REFERENCE} or ${PYTHON} not found`
      : undefined;
  if (skipped) console.log(`skipped: ${skipped}`);
  return skipped ? undefined : { data, labels };
}
