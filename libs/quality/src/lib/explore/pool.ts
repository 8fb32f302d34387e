import type { ChildProcess } from 'node:child_process';
import { mapSettled, ProgressTracker, resolveWorkerEntry, startWorkerProcess, type ProgressCallback, type WorkerEntry } from '@agekit/dataset';
import type { NativeQuality, NativeStageTimes } from '../native';
import { analyzeFile, type AnalyzeOptions, type AnalyzeOutcome } from './analyze';
import type { BatchMessage, ResultMessage } from './explore-worker';

export interface AnalyzeFilesOptions extends AnalyzeOptions {
  /** Worker processes; 1 = measure in this process. */
  workers: number;
  /** The worker module (exploreWorkerEntry()); without it the JS path measures in this process. */
  workerEntry?: WorkerEntry;
  /** Files per message to a worker (default 16). */
  batchSize?: number;
  /** Batches queued at each worker at once (default 8), so a worker never waits for a busy parent. */
  batchesInFlight?: number;
  onProgress?: ProgressCallback;
  /** Stop early: no further file is started (the ones not measured get an 'aborted' failure). */
  signal?: AbortSignal;
  /** Workers already started with startWorkers (e.g. while the dataset was being scanned); used before starting more. */
  started?: ChildProcess[];
  /**
   * The native engine (@agekit/quality's loadNativeQuality()): when given, this process feeds it batches on
   * libuv's thread pool and only the files it does not handle go the JS way (workers or in-process).
   */
  native?: NativeQuality;
  /** Threads of the native engine (default 2). */
  nativeThreads?: number;
  /** Files per native thread per batch (default 64). */
  nativeBatchPerThread?: number;
  /** With the native engine: below this many files left for the JS path, measure them in-process (default 200). */
  minFilesForWorkers?: number;
  /**
   * Called once per file as soon as its outcome is known (in no particular order), e.g. to format its CSV
   * row while the engine measures the next files. The first exception thrown here is rethrown by analyzeFiles
   * once the work has settled (the remaining files are still measured, without further calls).
   */
  onOutcome?: (index: number, outcome: AnalyzeOutcome) => void;
  /**
   * Keep every outcome for the result (default true). false: result.outcomes is empty and each outcome goes to
   * onOutcome only, so a large dataset's measurements are not all held in memory until the end (explore keeps its
   * CSV line instead).
   */
  keepOutcomes?: boolean;
}

/** Where outcomes go: the result array, the progress tracker and the onOutcome callback. */
class OutcomeSink {
  /** The first exception thrown by onOutcome (rethrown by analyzeFiles once the work settles). */
  failure: { error: unknown } | undefined;
  /** 1 for each file whose outcome is known. */
  readonly settled: Uint8Array;
  constructor(
    count: number,
    /** Each outcome by file index, or undefined when they are not kept (AnalyzeFilesOptions.keepOutcomes). */
    readonly outcomes: AnalyzeOutcome[] | undefined,
    private readonly tracker: ProgressTracker,
    private readonly onOutcome: AnalyzeFilesOptions['onOutcome'],
  ) {
    this.settled = new Uint8Array(count);
  }

  set(index: number, outcome: AnalyzeOutcome): void {
    if (this.outcomes) this.outcomes[index] = outcome;
    this.settled[index] = 1;
    this.tracker.tick(outcome.ok);
    if (this.onOutcome && !this.failure) {
      try {
        this.onOutcome(index, outcome);
      } catch (error) {
        this.failure = { error };
      }
    }
  }
}

export interface AnalyzeFilesResult {
  outcomes: AnalyzeOutcome[];
  /** Worker processes actually used (0 = in-process or none). */
  workers: number;
  /** Files measured by the native engine and by the JS path (decoder canvas or sharp, or failed there). */
  engineCounts: { native: number; js: number };
  /** Thread CPU time of the native engine's stages (zeros without it). */
  nativeTimes: NativeStageTimes;
}

/** The explore worker module (explore-worker.ts/.js beside this file, or an app bundle that re-exports runExploreWorker). */
export function exploreWorkerEntry(): WorkerEntry | undefined {
  return resolveWorkerEntry({ from: __filename, module: 'explore-worker', start: 'runExploreWorker' });
}

function startWorker(entry: WorkerEntry): ChildProcess {
  const child = startWorkerProcess(entry);
  child.on('error', () => undefined); // a failed start is seen (not connected) when the work is handed out
  return child;
}

/**
 * Start `count` workers now, so that their start-up (a Node process loading the decoder and the
 * metrics) overlaps the parent's own work; pass them to analyzeFiles as `started`. Workers that
 * analyzeFiles does not need are sent away (disconnected).
 */
export function startWorkers(count: number, entry: WorkerEntry): ChildProcess[] {
  return Array.from({ length: count }, () => startWorker(entry));
}

/** Let a worker go: it exits when its IPC channel closes. */
function release(child: ChildProcess): void {
  if (child.connected) child.disconnect();
}

/** The outcome of a file left unmeasured because the work was stopped (options.signal). */
const ABORTED: AnalyzeOutcome = { ok: false, error: { reason: 'aborted', message: 'stopped before this file was measured' } };

async function inProcess(files: readonly string[], options: AnalyzeFilesOptions, sink: OutcomeSink, indices: number[]): Promise<void> {
  await mapSettled(
    indices,
    async (index) => {
      sink.set(index, options.signal?.aborted ? ABORTED : await analyzeFile(files[index], options));
    },
    { concurrency: 4 },
  );
}

/**
 * The JS path over files[indices]: `workers` child processes (each with its own decoder and one core's
 * worth of work) or in-process; fills outcomes[index]; returns the worker processes used.
 */
async function jsPath(files: readonly string[], all: number[], options: AnalyzeFilesOptions, sink: OutcomeSink): Promise<number> {
  const analyzeOptions: AnalyzeOptions = { maxPixels: options.maxPixels, sharpOnly: options.sharpOnly };
  const started = [...(options.started ?? [])];
  if (options.workers <= 1 || !options.workerEntry || all.length === 0 || options.signal?.aborted) {
    started.forEach(release);
    await inProcess(files, options, sink, all);
    return 0;
  }
  const batchSize = options.batchSize ?? 16;
  const inFlight = Math.max(1, options.batchesInFlight ?? 8);
  const queue: number[][] = [];
  for (let i = 0; i < all.length; i += batchSize) queue.push(all.slice(i, i + batchSize));
  const leftovers: number[] = [];
  let nextId = 0;
  await new Promise<void>((resolve) => {
    let alive = 0;
    const entry = options.workerEntry as WorkerEntry;
    const startOne = (): void => {
      const child: ChildProcess = started.shift() ?? startWorker(entry);
      alive++;
      const pending = new Map<number, number[]>();
      let finished = false;
      const send = (): void => {
        if (options.signal?.aborted) return; // the batches still queued are marked aborted in-process below
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
        batch.forEach((index, k) => sink.set(index, message.outcomes[k]));
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
            sink.set(index, { ok: false, error: { reason: 'error', message: `worker process died (${signal ?? `exit ${code}`}) while reading this batch` } });
          }
        }
        pending.clear();
        done();
      });
      child.on('error', () => {
        // the process could not start: the work still queued is done in-process below
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
    for (let w = 0; w < options.workers && queue.length > 0; w++) startOne();
    started.splice(0).forEach(release);
    if (alive === 0) resolve();
  });
  for (const batch of queue) leftovers.push(...batch);
  const queued = new Set(leftovers);
  for (const i of all) if (!sink.settled[i] && !queued.has(i)) leftovers.push(i);
  if (leftovers.length) await inProcess(files, options, sink, leftovers);
  return options.workers;
}

/**
 * Native batches handed to the engine at once. Each batch is `threads` work items on libuv's pool (4 threads by
 * default), so 4 batches keep items queued behind the running ones: when this thread is held up (a garbage
 * collection, the outcomes of a batch) the engine's threads take the queued items instead of idling. With 2 a
 * core idled ~5% of the time on UTKFace (idle CPU ticks of a 19,034-image run 57-79 -> 21-23 with 4).
 */
const NATIVE_BATCHES_IN_FLIGHT = 4;

/**
 * The native engine over every file, NATIVE_BATCHES_IN_FLIGHT batches at a time; returns the indices it did not
 * handle. Read errors it recognises become failures here.
 */
async function nativePath(
  native: NativeQuality,
  files: readonly string[],
  options: AnalyzeFilesOptions,
  sink: OutcomeSink,
  times: NativeStageTimes,
): Promise<number[]> {
  const threads = Math.max(1, options.nativeThreads ?? 2);
  const batchSize = threads * Math.max(1, options.nativeBatchPerThread ?? 64);
  const notHandled: number[] = [];
  let next = 0;
  const runOne = async (): Promise<void> => {
    while (next < files.length && !options.signal?.aborted) {
      const start = next;
      const end = Math.min(files.length, start + batchSize);
      next = end;
      let result: Awaited<ReturnType<NativeQuality['measureFiles']>>;
      try {
        result = await native.measureFiles(files.slice(start, end), { maxPixels: options.maxPixels, threads, timers: true });
      } catch {
        // the engine could not run this batch at all (out of memory, ...): the JS path takes it
        for (let index = start; index < end; index++) notHandled.push(index);
        continue;
      }
      times.readSeconds += result.times.readSeconds;
      times.decodeSeconds += result.times.decodeSeconds;
      times.metricsSeconds += result.times.metricsSeconds;
      result.outcomes.forEach((o, k) => {
        const index = start + k;
        if (o.status === 'ok') {
          sink.set(index, { ok: true, value: { format: o.format, sourceChannels: o.sourceChannels, decoder: 'native', metrics: o.metrics } });
        } else if (o.status === 'failed') {
          // the messages analyze.ts's readError gives for the same errno
          sink.set(index, { ok: false, error: { reason: o.reason, message: `${o.reason}: ${o.detail}` } });
        } else {
          notHandled.push(index);
        }
      });
    }
  };
  await Promise.all(Array.from({ length: NATIVE_BATCHES_IN_FLIGHT }, runOne));
  for (let index = next; index < files.length; index++) notHandled.push(index); // stopped early: left to the JS path, which marks them
  return notHandled.sort((a, b) => a - b);
}

/**
 * Measure every file, results in input order. With the native engine this process feeds it batches and
 * only the files it does not handle take the JS path; otherwise the JS path spreads the work over
 * `workers` child processes. A file that fails is an outcome, never a throw.
 */
export async function analyzeFiles(files: readonly string[], options: AnalyzeFilesOptions): Promise<AnalyzeFilesResult> {
  const keep = options.keepOutcomes !== false;
  const outcomes: AnalyzeOutcome[] = keep ? new Array(files.length) : [];
  const sink = new OutcomeSink(files.length, keep ? outcomes : undefined, new ProgressTracker(files.length, options.onProgress), options.onOutcome);
  const nativeTimes: NativeStageTimes = { readSeconds: 0, decodeSeconds: 0, metricsSeconds: 0 };
  let result: AnalyzeFilesResult;
  if (options.native && files.length > 0) {
    const rest = await nativePath(options.native, files, options, sink, nativeTimes);
    const workers = rest.length < (options.minFilesForWorkers ?? 200) ? 1 : options.workers;
    const used = await jsPath(files, rest, { ...options, workers }, sink);
    result = { outcomes, workers: used, engineCounts: { native: files.length - rest.length, js: rest.length }, nativeTimes };
  } else {
    const used = await jsPath(
      files,
      files.map((_, i) => i),
      options,
      sink,
    );
    result = { outcomes, workers: used, engineCounts: { native: 0, js: files.length }, nativeTimes };
  }
  if (sink.failure) throw sink.failure.error;
  return result;
}
