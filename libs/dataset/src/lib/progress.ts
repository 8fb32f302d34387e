/** A snapshot of progress through a known amount of work. */
export interface Progress {
  done: number;
  total: number;
  /** Items that failed so far (included in done). */
  failed: number;
  elapsedSeconds: number;
  /** Items per second since the start. */
  rate: number;
  /** Seconds left at the current rate (Infinity before the first item). */
  etaSeconds: number;
}

export type ProgressCallback = (progress: Progress) => void;

/** Counts work and computes rate and ETA; calls back at most every `intervalMs` (and always at the end). */
export class ProgressTracker {
  private done = 0;
  private failed = 0;
  private readonly start = performance.now();
  private lastReport = 0;

  constructor(
    readonly total: number,
    private readonly onProgress?: ProgressCallback,
    private readonly intervalMs = 200,
  ) {}

  tick(ok = true): void {
    this.done++;
    if (!ok) this.failed++;
    const now = performance.now();
    if (this.onProgress && (now - this.lastReport >= this.intervalMs || this.done === this.total)) {
      this.lastReport = now;
      this.onProgress(this.snapshot());
    }
  }

  snapshot(): Progress {
    const elapsedSeconds = (performance.now() - this.start) / 1000;
    const rate = elapsedSeconds > 0 ? this.done / elapsedSeconds : 0;
    const etaSeconds = rate > 0 ? (this.total - this.done) / rate : Infinity;
    return { done: this.done, total: this.total, failed: this.failed, elapsedSeconds, rate, etaSeconds };
  }
}

export interface MapConcurrentOptions {
  /** Items in flight at once (default 4). */
  concurrency?: number;
  onProgress?: ProgressCallback;
  /** Report interval in ms (default 200). */
  progressIntervalMs?: number;
  /** Optional cancellation. */
  signal?: AbortSignal;
}

/** Outcome of one item of mapSettled: its value or the error it threw. */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Map over items with at most `concurrency` promises in flight; results come back in input order.
 * An item that throws does not stop the others: its slot holds `{ok: false, error}`.
 */
export async function mapSettled<T, R>(
  items: readonly T[],
  fn: (item: T, index: number) => Promise<R>,
  options: MapConcurrentOptions = {},
): Promise<Settled<R>[]> {
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const tracker = new ProgressTracker(items.length, options.onProgress, options.progressIntervalMs);
  const results: Settled<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      const index = next++;
      try {
        results[index] = { ok: true, value: await fn(items[index], index) };
        tracker.tick(true);
      } catch (error) {
        results[index] = { ok: false, error };
        tracker.tick(false);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Format seconds as h:mm:ss or m:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}
