import { formatDuration, mapSettled, type Progress } from './progress';
import { createRng } from './rng';

describe('mapSettled', () => {
  it('keeps order, bounds concurrency, captures failures and reports progress', async () => {
    let inFlight = 0;
    let peak = 0;
    const reports: Progress[] = [];
    const items = Array.from({ length: 50 }, (_, i) => i);
    const results = await mapSettled(
      items,
      async (i) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 1 + (i % 3)));
        inFlight--;
        if (i % 10 === 3) throw new Error(`bad ${i}`);
        return i * 2;
      },
      { concurrency: 3, onProgress: (p) => reports.push(p), progressIntervalMs: 0 },
    );
    expect(peak).toBe(3);
    expect(results[4]).toEqual({ ok: true, value: 8 });
    expect(results[13]).toEqual({ ok: false, error: new Error('bad 13') });
    expect(results.filter((r) => !r.ok)).toHaveLength(5);
    const last = reports[reports.length - 1];
    expect([last.done, last.total, last.failed]).toEqual([50, 50, 5]);
    expect(last.rate).toBeGreaterThan(0);
    expect(reports.map((r) => r.done)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('formats durations', () => {
    expect(formatDuration(65)).toBe('1:05');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Infinity)).toBe('--:--');
  });
});

describe('rng', () => {
  it('is deterministic per seed and forks independently of draw order', () => {
    const a = createRng(42);
    const b = createRng(42);
    expect([a.next(), a.next()]).toEqual([b.next(), b.next()]);
    expect(createRng(42).fork('x').next()).toBe(a.fork('x').next());
    expect(createRng(43).next()).not.toBe(createRng(42).next());
    const xs = Array.from({ length: 20000 }, () => b.next());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(b.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
