import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { request } from './http-client';

/** A bounded loopback load run (the load test of agekit serve's e2e spec). */
export interface LoadOptions {
  port: number;
  requests: number;
  concurrency: number;
  body: Buffer;
  path?: string;
  /** Give up (remaining requests count as failed) after this long. Default 30 s. */
  maxSeconds?: number;
}

export interface LoadReport {
  requests: number;
  ok: number;
  failed: number;
  /** status (or 'error: CODE') -> count, for the failures. */
  failures: Record<string, number>;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const deadline = performance.now() + (options.maxSeconds ?? 30) * 1000;
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < options.requests) {
      next++;
      if (performance.now() > deadline) {
        failures['deadline'] = (failures['deadline'] ?? 0) + 1;
        continue;
      }
      const t0 = performance.now();
      try {
        const res = await request(options.port, { method: 'POST', path: options.path ?? '/api/predict', body: options.body, agent });
        if (res.status === 200) latencies.push(performance.now() - t0);
        else failures[String(res.status)] = (failures[String(res.status)] ?? 0) + 1;
      } catch (error) {
        const key = `error: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
        failures[key] = (failures[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  return {
    requests: options.requests,
    ok: latencies.length,
    failed,
    failures,
    seconds,
    requestsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
  };
}

export function formatLoad(r: LoadReport): string {
  return `${r.ok}/${r.requests} ok, ${r.failed} failed${r.failed ? ` ${JSON.stringify(r.failures)}` : ''} in ${r.seconds.toFixed(2)} s: ${r.requestsPerSecond.toFixed(1)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, max ${r.maxMs.toFixed(1)} ms`;
}
