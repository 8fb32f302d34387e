import { DEFAULT_SERVE_LIMITS, QueueAbortedError, QueueFullError, resolveLimits, Semaphore } from './limits';
import { sniffUpload } from './sniff';

describe('resolveLimits', () => {
  it('fills defaults and validates overrides', () => {
    expect(resolveLimits()).toEqual(DEFAULT_SERVE_LIMITS);
    expect(resolveLimits({ maxConcurrent: 4, maxQueue: 0 })).toMatchObject({ maxConcurrent: 4, maxQueue: 0, maxBodyBytes: 10 * 1024 * 1024 });
    expect(() => resolveLimits({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => resolveLimits({ maxBodyBytes: Number.NaN })).toThrow(/maxBodyBytes/);
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

describe('sniffUpload', () => {
  const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
  it('accepts JPEG, PNG and WebP by magic bytes only', () => {
    expect(sniffUpload(bytes(0xff, 0xd8, 0xff, 0xe0))).toEqual({ ok: true, format: 'jpeg' });
    expect(sniffUpload(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a))).toEqual({ ok: true, format: 'png' });
    expect(sniffUpload(Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1'))).toEqual({ ok: true, format: 'webp' });
  });
  it('refuses empty bodies, other image types and non-images', () => {
    expect(sniffUpload(bytes())).toMatchObject({ ok: false, status: 400, code: 'empty-body' });
    expect(sniffUpload(Buffer.from('GIF89a....'))).toMatchObject({ ok: false, status: 415, code: 'unsupported-image-type' });
    expect(sniffUpload(Buffer.from('BM......'))).toMatchObject({ ok: false, status: 415, code: 'unsupported-image-type' });
    expect(sniffUpload(Buffer.from('%PDF-1.7\n'))).toMatchObject({ ok: false, status: 415, code: 'not-an-image' });
    expect(sniffUpload(Buffer.from('hello, this is text'))).toMatchObject({ ok: false, status: 415, code: 'not-an-image' });
    expect(sniffUpload(Buffer.from('XXXXXXXXWEBP'))).toMatchObject({ ok: false, status: 415, code: 'not-an-image' });
  });
});
