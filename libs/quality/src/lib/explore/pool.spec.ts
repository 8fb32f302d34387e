import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateSynthDataset } from '@agekit/synth';
import { once } from 'node:events';
import type { Progress } from '@agekit/dataset';
import type { NativeQuality } from '../native';
import type { AnalyzeOutcome } from './analyze';
import { analyzeFiles, exploreWorkerEntry, IncomingFiles, startWorkers } from './pool';

jest.setTimeout(120_000);

describe('analyzeFiles', () => {
  let tmp: string;
  let files: string[];
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-explore-pool-'));
    const synth = path.join(tmp, 'synth');
    const samples = await generateSynthDataset({ out: synth, count: 12, seed: 3, size: 64, defectRate: 0.5 });
    const good = samples.map((s) => path.join(synth, s.file));
    const jpeg = await fs.readFile(good[0]);
    const bad = path.join(tmp, 'bad');
    await fs.mkdir(bad);
    await fs.writeFile(path.join(bad, 'empty.jpg'), Buffer.alloc(0));
    await fs.writeFile(path.join(bad, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    await fs.writeFile(path.join(bad, 'text.jpg'), 'this is not an image\n');
    files = [...['empty.jpg', 'truncated.jpg', 'text.jpg', 'missing.jpg'].map((f) => path.join(bad, f)), ...good];
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('the worker module is found from the sources (explore-worker.ts beside pool.ts, through tsx)', () => {
    const entry = exploreWorkerEntry();
    expect(entry?.module).toBe(path.join(__dirname, 'explore-worker.ts'));
    expect(entry?.start).toBe('runExploreWorker');
    expect(entry?.register).toBeDefined();
  });

  it('worker processes give the same outcomes as in-process measuring', async () => {
    const local = await analyzeFiles(files, { workers: 1, maxPixels: 50_000_000 });
    expect(local.workers).toBe(0);
    expect(local.outcomes.filter((o) => !o.ok).map((o) => (o.ok ? '' : o.error.reason))).toEqual(['empty', 'corrupt', 'unsupported-format', 'not-found']);
    const seen: Array<[number, unknown]> = [];
    const entry = exploreWorkerEntry();
    if (!entry) throw new Error('no explore worker module');
    const started = startWorkers(2, entry);
    const exits = started.map((child) => once(child, 'exit'));
    const inWorkers = await analyzeFiles(files, {
      workers: 2,
      workerEntry: entry,
      started,
      maxPixels: 50_000_000,
      batchSize: 3,
      onOutcome: (index, outcome) => seen.push([index, outcome]),
    });
    expect(inWorkers.workers).toBe(2);
    expect(inWorkers.outcomes).toEqual(local.outcomes);
    // both processes served batches and left cleanly when let go (a worker that failed to start exits 1)
    expect(await Promise.all(exits)).toEqual([
      [0, null],
      [0, null],
    ]);
    // onOutcome saw each file once, with its outcome
    expect(seen.map(([i]) => i).sort((a, b) => a - b)).toEqual(files.map((_, i) => i));
    for (const [i, outcome] of seen) expect(outcome).toBe(inWorkers.outcomes[i]);
  });

  it('onOutcome: a throw is rethrown by analyzeFiles after the work settles, with no further calls', async () => {
    let calls = 0;
    await expect(
      analyzeFiles(files, {
        workers: 1,
        maxPixels: 50_000_000,
        onOutcome: () => {
          calls++;
          throw new Error('formatting failed');
        },
      }),
    ).rejects.toThrow('formatting failed');
    expect(calls).toBe(1);
  });

  it('keepOutcomes false: the outcomes go to onOutcome only, the result holds none', async () => {
    const kept = await analyzeFiles(files, { workers: 1, maxPixels: 50_000_000 });
    const seen: AnalyzeOutcome[] = [];
    const result = await analyzeFiles(files, { workers: 1, maxPixels: 50_000_000, keepOutcomes: false, onOutcome: (i, outcome) => (seen[i] = outcome) });
    expect(result.outcomes).toEqual([]);
    expect(seen).toEqual(kept.outcomes);
  });

  it('a signal already aborted: no file is measured, each is an aborted outcome', async () => {
    const stop = new AbortController();
    stop.abort();
    const result = await analyzeFiles(files, { workers: 2, workerEntry: exploreWorkerEntry(), maxPixels: 50_000_000, signal: stop.signal });
    expect(result.outcomes.map((o) => (o.ok ? 'ok' : o.error.reason))).toEqual(files.map(() => 'aborted'));
  });

  it('onProgress: a throw is rethrown by analyzeFiles once the work settles (IncomingFiles.end, which delivers the held outcomes, does not throw)', async () => {
    const engine: NativeQuality = {
      file: 'stand-in',
      metricNames: [],
      measurePixels: () => {
        throw new Error('not used');
      },
      measureFiles: async (paths) => ({
        outcomes: paths.map(() => ({ status: 'failed', reason: 'not-found', detail: 'no such file' })),
        times: { readSeconds: 0, decodeSeconds: 0, metricsSeconds: 0 },
      }),
    };
    const incoming = new IncomingFiles();
    const seen: number[] = [];
    const analysis = analyzeFiles(incoming, {
      native: engine,
      nativeThreads: 1,
      nativeBatchPerThread: 2,
      workers: 1,
      maxPixels: 50_000_000,
      onOutcome: (i) => seen.push(i),
      onProgress: () => {
        throw new Error('progress display failed');
      },
    });
    incoming.push(['/nowhere/a.jpg', '/nowhere/b.jpg', '/nowhere/c.jpg']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(() => incoming.end()).not.toThrow();
    await expect(analysis).rejects.toThrow('progress display failed');
    expect(seen).toEqual([]);
  });

  it('IncomingFiles: the native engine starts on the first files, one batch at a time on one thread fewer while they arrive; outcomes and progress start once they have ended', async () => {
    const calls: Array<{ paths: string[]; threads: number | undefined }> = [];
    // a stand-in engine: a missing file fails, a name with "other" is left to the JS path
    const engine: NativeQuality = {
      file: 'stand-in',
      metricNames: [],
      measurePixels: () => {
        throw new Error('not used');
      },
      measureFiles: async (paths, measure) => {
        calls.push({ paths: [...paths], threads: measure.threads });
        await new Promise((resolve) => setTimeout(resolve, 1));
        return {
          outcomes: paths.map((p) => (p.includes('other') ? { status: 'not-handled' } : { status: 'failed', reason: 'not-found', detail: 'no such file' })),
          times: { readSeconds: 0, decodeSeconds: 0, metricsSeconds: 0 },
        };
      },
    };
    const names = Array.from({ length: 12 }, (_, i) => path.join(tmp, i === 5 ? 'other.jpg' : `missing-${i}.jpg`));
    const options = { native: engine, nativeThreads: 3, nativeBatchPerThread: 2, workers: 1, maxPixels: 50_000_000 };
    const seen: number[] = [];
    const progress: Progress[] = [];
    const incoming = new IncomingFiles();
    const analysis = analyzeFiles(incoming, { ...options, onOutcome: (i) => seen.push(i), onProgress: (p) => progress.push(p) });
    incoming.push(names.slice(0, 3));
    expect(calls).toEqual([]); // not a batch's worth yet (2 threads x 2 files while the files arrive)
    incoming.push(names.slice(3, 7));
    // handed to the engine during the push, before anything else runs; one batch at a time while the files arrive
    expect(calls).toEqual([{ paths: names.slice(0, 4), threads: 2 }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toHaveLength(1); // done, and the 3 files left are not a batch's worth
    expect(seen).toEqual([]);
    expect(progress).toEqual([]);
    incoming.push(names.slice(7));
    expect(calls.slice(1)).toEqual([{ paths: names.slice(4, 8), threads: 2 }]);
    incoming.end();
    // the outcomes held so far are delivered at the end; the rest goes as a batch of all threads beside the running one
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    expect(calls.slice(2)).toEqual([{ paths: names.slice(8), threads: 3 }]);
    const result = await analysis;
    expect(seen.sort((a, b) => a - b)).toEqual(names.map((_, i) => i));
    expect(progress.at(-1)).toMatchObject({ done: 12, total: 12, failed: 12 });
    expect(result.engineCounts).toEqual({ native: 11, js: 1 });
    const whole = await analyzeFiles(names, options);
    expect(result.outcomes).toEqual(whole.outcomes);
    expect(whole.outcomes.map((o) => (o.ok ? 'ok' : o.error.reason))).toEqual(names.map(() => 'not-found'));
    expect(() => incoming.push(names)).toThrow('push after end');
  });
});
