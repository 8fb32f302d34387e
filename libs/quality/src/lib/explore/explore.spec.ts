import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { METADATA_COLUMNS, readCsv, readMetadataCsv } from '@agekit/dataset';
import { generateSynthDataset, type SynthSample } from '@agekit/synth';
import { FLAG_NAMES } from '../checks';
import { DEFAULT_THRESHOLDS } from '../thresholds';
import { exploreDataset } from './explore';

jest.setTimeout(180_000);

/** What each synthetic defect must raise (the generator's defect -> the check's flag). */
const FLAG_OF_DEFECT: Record<string, string> = { blurry: 'blurry', dark: 'dark', bright: 'bright', noisy: 'noisy', tiny: 'low_resolution', flat: 'low_texture' };

describe('exploreDataset', () => {
  let tmp: string;
  let data: string;
  let samples: SynthSample[];
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-explore-lib-'));
    data = path.join(tmp, 'faces');
    samples = await generateSynthDataset({ out: data, count: 40, seed: 5, size: 96, defectRate: 0.7, duplicateRate: 0.1 });
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('with only data and out: writes csv/metadata.csv with the contract columns and returns the counts it holds', async () => {
    const out = path.join(tmp, 'out');
    const result = await exploreDataset({ data, out });
    const csv = path.join(out, 'csv', 'metadata.csv');
    expect(result.csv).toBe(csv);
    expect(result.layout).toBe('folder-per-label');
    expect(result.images).toBe(samples.length);
    expect(result.read).toBe(samples.length);
    expect(result.failed).toBe(0);
    expect(result.problems).toEqual([]);
    const text = await fs.readFile(csv, 'utf8');
    expect(text.split('\n')[0]).toBe(METADATA_COLUMNS.join(','));
    const rows = await readMetadataCsv(csv);
    expect(rows.map((r) => r.id).sort()).toEqual(samples.map((s) => s.file).sort());
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const s of samples) {
      const row = byId.get(s.file);
      expect(row?.age).toBe(s.age);
      expect(row?.error).toBe('');
      expect(row?.width).toBeGreaterThan(0);
      expect(row?.laplacianVariance).toBeGreaterThanOrEqual(0);
      expect(row?.pixelHash).toMatch(/^[0-9a-f]{16}$/);
      if (s.defect !== 'none' && FLAG_OF_DEFECT[s.defect]) expect(row?.flags).toContain(FLAG_OF_DEFECT[s.defect]);
      if (s.duplicateOf) expect(row?.duplicateOf.split(';')).toContain(s.duplicateOf);
    }
    // the counts of the result are those of the file, flag by flag (the default thresholds were applied)
    const raw = await readCsv(csv);
    for (const flag of FLAG_NAMES) expect(result.flags[flag]).toBe(raw.filter((r) => r[`flag_${flag}`] === '1').length);
    expect(result.clean).toBe(rows.filter((r) => r.flags.length === 0).length);
    expect(result.clean).toBeLessThan(samples.length);
    expect(result.decoders.native + result.decoders.canvas + result.decoders.sharp).toBe(samples.length);
  });

  it('applies the thresholds given (a looser blur threshold flags fewer images)', async () => {
    const strict = await exploreDataset({ data, out: path.join(tmp, 'strict'), engine: 'js', workers: 1 });
    const loose = await exploreDataset({ data, out: path.join(tmp, 'loose'), engine: 'js', workers: 1, thresholds: { ...DEFAULT_THRESHOLDS, blurryBelow: 0 } });
    expect(strict.flags.blurry).toBeGreaterThan(0);
    expect(loose.flags.blurry).toBe(0);
  });

  it('js engine in worker processes and in-process write the same bytes as the default run', async () => {
    const reference = await fs.readFile(path.join(tmp, 'out', 'csv', 'metadata.csv'), 'utf8');
    const workers = await exploreDataset({ data, out: path.join(tmp, 'js-workers'), engine: 'js', workers: 2, minImagesForWorkers: 1 });
    expect(workers.engine).toBe('js');
    expect(workers.workers).toBe(2);
    expect(await fs.readFile(workers.csv, 'utf8')).toBe(reference);
    const inProcess = await exploreDataset({ data, out: path.join(tmp, 'js-one'), engine: 'js', workers: 1 });
    expect(inProcess.workers).toBe(0);
    expect(await fs.readFile(inProcess.csv, 'utf8')).toBe(reference);
  });

  it('a signal stops it: the call rejects, the previous metadata.csv is kept and no temporary is left', async () => {
    const out = path.join(tmp, 'aborted');
    const first = await exploreDataset({ data, out, limit: 5 });
    const before = await fs.readFile(first.csv, 'utf8');
    const stop = new AbortController();
    let doneAtAbort = -1;
    await expect(
      exploreDataset({
        data,
        out,
        engine: 'js',
        workers: 1,
        signal: stop.signal,
        onProgress: (progress) => {
          // the first report comes with the first image measured
          if (doneAtAbort < 0) {
            doneAtAbort = progress.done;
            stop.abort(new Error('stopped by the test'));
          }
        },
      }),
    ).rejects.toThrow('stopped by the test');
    expect(doneAtAbort).toBeGreaterThan(0);
    expect(doneAtAbort).toBeLessThan(samples.length);
    expect(await fs.readFile(first.csv, 'utf8')).toBe(before);
    expect((await fs.readdir(path.join(out, 'csv'))).sort()).toEqual(['metadata.csv']);
    expect((await fs.readdir(out)).sort()).toEqual(['csv']);
    const already = new AbortController();
    already.abort(new Error('aborted before the start'));
    await expect(exploreDataset({ data, out, signal: already.signal })).rejects.toThrow('aborted before the start');
    expect(await fs.readFile(first.csv, 'utf8')).toBe(before);
  });
});
