// A thread module for worker-threads.spec.ts: squares numbers, fails on negative ones, stalls on NaN.
import { serveThreadTasks } from './worker-threads';

export function runSquareWorker(data: { values: number[] }): void {
  serveThreadTasks(async (index) => {
    const v = data.values[index];
    if (Number.isNaN(v)) return new Promise<number>(() => undefined);
    if (v < 0) throw new Error(`negative: ${v}`);
    return v * v;
  });
}
