/**
 * Numbered tasks spread over worker threads, each thread with a few tasks in flight. A thread is started by the one
 * worker mechanism (worker-pool.ts: `resolveWorkerEntry` finds the module from sources, tsc output or a bundle,
 * `startWorkerThread` starts it); its start function calls `serveThreadTasks`.
 */
import { parentPort, type Worker } from 'node:worker_threads';
import { describeError } from './errors';
import { startWorkerThread, type WorkerEntry } from './worker-pool';

type TaskRequest = { index: number };
type TaskReply<R> = { index: number; value: R } | { index: number; error: string };

/** The outcome of one task: its value, or the one-line reason it failed. */
export type ThreadTaskResult<R> = { ok: true; value: R } | { ok: false; error: string };

export interface ThreadTasksOptions<R> {
  /** The thread module (resolveWorkerEntry); its start function calls `serveThreadTasks`. */
  entry: WorkerEntry;
  /** Structured-clone data every thread's function receives (the job: settings and the items the indices name). */
  data: unknown;
  /** Tasks 0..tasks-1. */
  tasks: number;
  /** Threads to start (at most one per task). */
  threads: number;
  /** Tasks in flight per thread (overlaps a task's native work with the next one's JavaScript). */
  inFlight: number;
  /** Called once per task, in completion order. */
  onResult(index: number, result: ThreadTaskResult<R>): void;
  /** Stop early: the threads are terminated and the run rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Run tasks 0..tasks-1 on worker threads; resolves with the number of threads used once every task has a result. */
export async function runThreadTasks<R>(options: ThreadTasksOptions<R>): Promise<number> {
  const { entry, tasks, inFlight } = options;
  const count = Math.max(1, Math.min(options.threads, tasks));
  if (tasks === 0) return 0;
  options.signal?.throwIfAborted();
  const workers: Worker[] = [];
  let next = 0;
  let failure: unknown;
  const stopAll = (): Promise<unknown> => Promise.all(workers.map((w) => w.terminate()));
  const runs = Array.from({ length: count }, () => {
    const worker = startWorkerThread(entry, options.data);
    workers.push(worker);
    return new Promise<void>((resolve, reject) => {
      let pending = 0;
      let done = false;
      const finish = (error?: unknown): void => {
        if (done) return;
        done = true;
        if (error === undefined) void worker.terminate().then(() => resolve(), reject);
        else reject(error);
      };
      const feed = (): void => {
        while (pending < inFlight && next < tasks && failure === undefined) {
          worker.postMessage({ index: next++ } satisfies TaskRequest);
          pending++;
        }
        if (pending === 0) finish();
      };
      worker.on('message', (reply: TaskReply<R>) => {
        pending--;
        options.onResult(reply.index, 'value' in reply ? { ok: true, value: reply.value } : { ok: false, error: reply.error });
        feed();
      });
      worker.on('online', feed);
      worker.on('error', (error) => finish(new Error(`worker thread failed: ${describeError(error)}`)));
      worker.on('exit', (code) => finish(failure ?? new Error(`worker thread exited (code ${code}) with ${pending} tasks unfinished`)));
    });
  });
  const onAbort = (): void => {
    failure = options.signal?.reason ?? new Error('aborted');
    void stopAll();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.all(runs);
  } catch (error) {
    failure ??= error;
    await stopAll();
    throw failure;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  return count;
}

/**
 * Inside a worker thread started by `runThreadTasks`: answer each task index with `run(index)`'s value, or the reason it
 * failed (a failed task does not stop the thread).
 */
export function serveThreadTasks<R>(run: (index: number) => Promise<R>): void {
  const port = parentPort;
  if (!port) throw new Error('serveThreadTasks must run in a worker thread');
  port.on('message', (request: TaskRequest) => {
    const { index } = request;
    run(index).then(
      (value) => port.postMessage({ index, value } satisfies TaskReply<R>),
      (error: unknown) => port.postMessage({ index, error: describeError(error) } satisfies TaskReply<R>),
    );
  });
}
