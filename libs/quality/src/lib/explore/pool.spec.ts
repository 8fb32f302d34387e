import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateSynthDataset } from '@agekit/synth';
import { once } from 'node:events';
import type { AnalyzeOutcome } from './analyze';
import { analyzeFiles, exploreWorkerEntry, startWorkers } from './pool';

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
});
