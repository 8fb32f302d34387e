import { fork, type ChildProcess } from 'node:child_process';
import { mapSettled, ProgressTracker, type ProgressCallback } from '@agekit/dataset';
import { analyzeFile, type AnalyzeOptions, type AnalyzeOutcome } from './analyze';
import { WORKER_ENV, type BatchMessage, type ResultMessage } from './worker';

export { runExploreWorker, WORKER_ENV } from './worker';

export interface PoolOptions extends AnalyzeOptions {
  /** Worker processes; 1 = measure in this process. */
  workers: number;
  /** Script to fork for a worker (the CLI entry); it must call runExploreWorker() when WORKER_ENV is set. */
  workerScript?: string;
  workerArgs?: string[];
  /** Node flags for the workers (default: this process's, so a tsx parent gives tsx workers). */
  execArgv?: string[];
  /** Files per message to a worker (default 16). */
  batchSize?: number;
  /** Batches queued at each worker at once (default 8), so a worker never waits for a busy parent. */
  batchesInFlight?: number;
  onProgress?: ProgressCallback;
  /** Workers already forked with startWorkers (e.g. while the dataset was being scanned); used before forking more. */
  started?: ChildProcess[];
}

export interface PoolResult {
  outcomes: AnalyzeOutcome[];
  /** Worker processes actually used (0 = in-process). */
  workers: number;
}

/**
 * Node flags for a worker. A TypeScript worker entry (the CLI run from sources with tsx) gets tsx's
 * CommonJS hook only (`--require tsx/cjs`): compiled in-thread, it starts ~0.35 CPU-s faster than with
 * tsx's full ESM loader (a loader thread plus a round trip per module). Other flags are kept.
 */
function workerExecArgv(script: string): string[] {
  if (!script.endsWith('.ts')) return process.execArgv;
  let hook: string;
  try {
    hook = require.resolve('tsx/cjs');
  } catch {
    return process.execArgv;
  }
  const kept: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if ((a === '--require' || a === '-r' || a === '--import' || a === '--loader') && /[\\/]tsx[\\/]/.test(args[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (/^--(require|import|loader)=.*[\\/]tsx[\\/]/.test(a)) continue;
    kept.push(a);
  }
  return [...kept, '--require', hook];
}

export interface WorkerSpawnOptions {
  workerScript: string;
  workerArgs?: string[];
  execArgv?: string[];
}

function forkWorker(options: WorkerSpawnOptions): ChildProcess {
  return fork(options.workerScript, options.workerArgs ?? [], {
    env: { ...process.env, [WORKER_ENV]: '1' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced',
    execArgv: options.execArgv ?? workerExecArgv(options.workerScript),
  });
}

/**
 * Fork `count` workers now, so that their start-up (a Node process loading the decoder and the
 * metrics) overlaps the parent's own work; pass them to analyzeFiles as `started`. Workers that
 * analyzeFiles does not need are sent away (disconnected).
 */
export function startWorkers(count: number, options: WorkerSpawnOptions): ChildProcess[] {
  const children: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    const child = forkWorker(options);
    child.on('error', () => undefined); // a failed fork is seen (not connected) when the work is handed out
    children.push(child);
  }
  return children;
}

/** Let a worker go: it exits when its IPC channel closes. */
function release(child: ChildProcess): void {
  if (child.connected) child.disconnect();
}

async function inProcess(files: readonly string[], options: PoolOptions, tracker: ProgressTracker, outcomes: AnalyzeOutcome[], indices: number[]): Promise<void> {
  await mapSettled(
    indices,
    async (index) => {
      const outcome = await analyzeFile(files[index], options);
      outcomes[index] = outcome;
      tracker.tick(outcome.ok);
    },
    { concurrency: 4 },
  );
}

/**
 * Measure every file, spreading the work over `workers` child processes (each with its own decoder
 * and one core's worth of work), results in input order. A file that fails is an outcome, never a throw.
 */
export async function analyzeFiles(files: readonly string[], options: PoolOptions): Promise<PoolResult> {
  const outcomes: AnalyzeOutcome[] = new Array(files.length);
  const tracker = new ProgressTracker(files.length, options.onProgress);
  const analyzeOptions: AnalyzeOptions = { maxPixels: options.maxPixels, sharpOnly: options.sharpOnly };
  const all = files.map((_, i) => i);
  const started = [...(options.started ?? [])];
  if (options.workers <= 1 || !options.workerScript || files.length === 0) {
    started.forEach(release);
    await inProcess(files, options, tracker, outcomes, all);
    return { outcomes, workers: 0 };
  }
  const batchSize = options.batchSize ?? 16;
  const inFlight = Math.max(1, options.batchesInFlight ?? 8);
  const queue: number[][] = [];
  for (let i = 0; i < files.length; i += batchSize) queue.push(all.slice(i, i + batchSize));
  const leftovers: number[] = [];
  let nextId = 0;
  await new Promise<void>((resolve) => {
    let alive = 0;
    const script = options.workerScript as string;
    const startWorker = (): void => {
      const child: ChildProcess = started.shift() ?? forkWorker({ workerScript: script, workerArgs: options.workerArgs, execArgv: options.execArgv });
      alive++;
      const pending = new Map<number, number[]>();
      let finished = false;
      const send = (): void => {
        const batch = queue.shift();
        if (!batch) return;
        const id = nextId++;
        pending.set(id, batch);
        const message: BatchMessage = { type: 'batch', id, files: batch.map((i) => files[i]), options: analyzeOptions };
        child.send(message);
      };
      const done = (): void => {
        if (finished) return;
        finished = true;
        alive--;
        if (alive === 0) resolve();
      };
      child.on('message', (raw) => {
        const message = raw as ResultMessage;
        if (message.type !== 'result') return;
        const batch = pending.get(message.id);
        if (!batch) return;
        pending.delete(message.id);
        batch.forEach((index, k) => {
          outcomes[index] = message.outcomes[k];
          tracker.tick(message.outcomes[k].ok);
        });
        send();
        if (pending.size === 0) {
          child.disconnect(); // the worker exits on disconnect
          done();
        }
      });
      child.on('exit', (code, signal) => {
        for (const batch of pending.values()) {
          // the decoder crashed the process: retry these files one by one in a fresh worker is not worth it; record the failure
          for (const index of batch) {
            outcomes[index] = { ok: false, error: { reason: 'error', message: `worker process died (${signal ?? `exit ${code}`}) while reading this batch` } };
            tracker.tick(false);
          }
        }
        pending.clear();
        done();
      });
      child.on('error', () => {
        // fork failed: the work still queued is done in-process below
        done();
      });
      if (!child.connected || child.exitCode !== null || child.signalCode !== null) {
        // a prestarted worker that already failed or exited: its share is done in-process below
        done();
        return;
      }
      // several batches queued at the worker, so it never waits for the parent
      for (let k = 0; k < inFlight; k++) send();
      if (pending.size === 0) {
        child.kill();
        done();
      }
    };
    for (let w = 0; w < options.workers && queue.length > 0; w++) startWorker();
    started.splice(0).forEach(release);
    if (alive === 0) resolve();
  });
  for (const batch of queue) leftovers.push(...batch);
  for (let i = 0; i < files.length; i++) if (outcomes[i] === undefined && !leftovers.includes(i)) leftovers.push(i);
  if (leftovers.length) await inProcess(files, options, tracker, outcomes, leftovers);
  return { outcomes, workers: options.workers };
}
