import { resolveWorkerEntry } from './worker-pool';
import { runThreadTasks, type ThreadTaskResult } from './worker-threads';

jest.setTimeout(60_000);

const entry = () => {
  const found = resolveWorkerEntry({ from: __filename, module: 'worker-threads.testing', start: 'runSquareWorker' });
  if (!found) throw new Error('worker-threads.testing.ts not found beside the spec');
  return found;
};

describe('runThreadTasks', () => {
  it('finds the thread module beside the caller, and nothing for a module that is not there', () => {
    expect(entry().module).toMatch(/worker-threads\.testing\.ts$/);
    expect(resolveWorkerEntry({ from: __filename, module: 'no-such-module', start: 'noSuchExport' })).toBeUndefined();
  });

  it('runs every task on the threads and reports each value or error by index', async () => {
    const values = [1, 2, 3, -4, 5, 6, 7];
    const results = new Map<number, ThreadTaskResult<number>>();
    const threads = await runThreadTasks<number>({ entry: entry(), data: { values }, tasks: values.length, threads: 2, inFlight: 2, onResult: (i, r) => results.set(i, r) });
    expect(threads).toBe(2);
    expect([...results.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(results.get(3)).toEqual({ ok: false, error: 'negative: -4' });
    for (const i of [0, 1, 2, 4, 5, 6]) expect(results.get(i)).toEqual({ ok: true, value: values[i] * values[i] });
  });

  it('starts no more threads than tasks', async () => {
    const got: number[] = [];
    expect(await runThreadTasks<number>({ entry: entry(), data: { values: [3] }, tasks: 1, threads: 4, inFlight: 1, onResult: (_, r) => r.ok && got.push(r.value) })).toBe(1);
    expect(got).toEqual([9]);
  });

  it('stops on abort: the threads end and the run rejects with the reason', async () => {
    const controller = new AbortController();
    const run = runThreadTasks<number>({ entry: entry(), data: { values: [NaN, NaN] }, tasks: 2, threads: 2, inFlight: 1, signal: controller.signal, onResult: () => undefined });
    setTimeout(() => controller.abort(new Error('stop here')), 200);
    await expect(run).rejects.toThrow('stop here');
  });
});
