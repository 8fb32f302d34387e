import { DEFAULT_SERVE_LIMITS, QueueAbortedError, QueueFullError, resolveServeLimits, Semaphore } from './limits';

describe('resolveServeLimits', () => {
  it('fills defaults and validates overrides', () => {
    expect(resolveServeLimits()).toEqual(DEFAULT_SERVE_LIMITS);
    expect(resolveServeLimits({ maxConcurrent: 4, maxQueue: 0 })).toMatchObject({ maxConcurrent: 4, maxQueue: 0, maxBodyBytes: 10 * 1024 * 1024 });
    expect(() => resolveServeLimits({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => resolveServeLimits({ maxBodyBytes: Number.NaN })).toThrow(/maxBodyBytes/);
  });
});

describe('Semaphore', () => {
  it('runs at most maxConcurrent, queues FIFO up to maxQueue, refuses beyond', async () => {
    const sem = new Semaphore(2, 2);
    const order: number[] = [];
    const r1 = await sem.acquire();
    const r2 = await sem.acquire();
    const p3 = sem.acquire().then((r) => (order.push(3), r));
    const p4 = sem.acquire().then((r) => (order.push(4), r));
    await expect(sem.acquire()).rejects.toBeInstanceOf(QueueFullError);
    expect([sem.active, sem.queued]).toEqual([2, 2]);
    r1();
    r1(); // idempotent: a second call must not free another slot
    const r3 = await p3;
    expect(order).toEqual([3]);
    expect([sem.active, sem.queued]).toEqual([2, 1]);
    r2();
    const r4 = await p4;
    expect(order).toEqual([3, 4]);
    r3();
    r4();
    expect([sem.active, sem.queued]).toEqual([0, 0]);
  });

  it('an aborted waiter leaves the queue without taking a slot', async () => {
    const sem = new Semaphore(1, 1);
    const r1 = await sem.acquire();
    const abort = new AbortController();
    const waiting = sem.acquire(abort.signal);
    expect(sem.queued).toBe(1);
    abort.abort();
    await expect(waiting).rejects.toBeInstanceOf(QueueAbortedError);
    expect(sem.queued).toBe(0);
    r1();
    expect(sem.active).toBe(0);
  });
});
