/** Limits of the age server (createAgeServer; `agekit serve` sets them from flags): every request is bounded in size, pixels, time, and how many run at once. */
export interface ServeLimits {
  /** Largest request body; bigger bodies get 413 and are not read further. Default 10 MiB. */
  maxBodyBytes: number;
  /** Largest image (width x height, read from the header before decoding). Default 40e6. */
  maxPixels: number;
  /** Per-request deadline from arrival to response, queueing included. Default 15000 ms. */
  timeoutMs: number;
  /** Images decoded + analysed at once. Default 2. */
  maxConcurrent: number;
  /** Requests waiting for a slot; one more gets 503. Default 16. */
  maxQueue: number;
}

export const DEFAULT_SERVE_LIMITS: Readonly<ServeLimits> = Object.freeze({
  maxBodyBytes: 10 * 1024 * 1024,
  maxPixels: 40e6,
  timeoutMs: 15_000,
  maxConcurrent: 2,
  maxQueue: 16,
});

/** Merge overrides onto the defaults; each must be a positive integer (maxQueue may be 0). */
export function resolveServeLimits(overrides: Partial<ServeLimits> = {}): ServeLimits {
  const limits: ServeLimits = { ...DEFAULT_SERVE_LIMITS };
  for (const key of Object.keys(DEFAULT_SERVE_LIMITS) as Array<keyof ServeLimits>) {
    const value = overrides[key];
    if (value === undefined) continue;
    const min = key === 'maxQueue' ? 0 : 1;
    if (!Number.isFinite(value) || value < min) throw new RangeError(`limit ${key} must be a number >= ${min} (got ${value})`);
    limits[key] = Math.floor(value);
  }
  return limits;
}

/** Thrown by Semaphore.acquire when the queue is full. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

/** Thrown into a waiter whose AbortSignal fired while it was queued. */
export class QueueAbortedError extends Error {
  override readonly name = 'QueueAbortedError';
}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (error: Error) => void;
}

/** A counting semaphore with a bounded FIFO queue. acquire() resolves to a release function (idempotent). */
export class Semaphore {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new QueueAbortedError('aborted before queueing'));
    if (this.running < this.maxConcurrent) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(new QueueFullError(`${this.running} running and ${this.waiting.length} queued (limits ${this.maxConcurrent} + ${this.maxQueue})`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        reject,
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new QueueAbortedError('aborted while queued'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.resolve(this.releaser());
      else this.running--;
    };
  }
}
