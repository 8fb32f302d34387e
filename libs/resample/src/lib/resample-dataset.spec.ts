import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readResamplingCsv, RESAMPLING_CSV_COLUMNS, SPLIT_NAMES } from '@agekit/dataset';
// test-only: the synthetic face generator
import { generateSynthDataset, type SynthSample } from '@agekit/synth';
import { defaultResampleConfig, type ResampleConfig } from './config';
import { resampleDataset, resampleOptionsFromConfig } from './resample-dataset';

jest.setTimeout(120_000);

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('resampleDataset', () => {
  let dir: string;
  let data: string;
  let samples: SynthSample[];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'resample-dataset-'));
    data = path.join(dir, 'faces');
    // every age of the default range (20-50) present, a few exact copies to group
    samples = await generateSynthDataset({ out: data, count: 400, seed: 3, size: 32, defectRate: 0, duplicateRate: 0.05, ageDistribution: 'uniform' });
  });

  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('with only data and out: the built-in target, grouped splits, a CSV naming every file written', async () => {
    const out = path.join(dir, 'out');
    const phases = new Set<string>();
    const result = await resampleDataset({ data, out, onProgress: (_p, phase) => phases.add(phase) });
    expect(result.outcome).toBe('written');
    expect(result.input).toBe(data);
    expect(result.inputImages).toBe(samples.length);
    expect(result.leftOut).toEqual([]);
    expect(result.seed).toBe(42);
    expect(result.ages).toEqual({ min: 20, max: 50, binWidth: 1 });
    expect(result.plan?.strategy).toMatch(/australia-erp-2021/);
    expect(result.validation?.totalVariationDistance).toBeLessThan(0.02);
    expect([...phases].sort()).toEqual(['augment', 'copy', 'screen']);
    // no renderer given: no chart
    expect(result.chart).toBeUndefined();
    await expect(fs.access(path.join(out, 'visualizations', 'resample', 'target_vs_achieved.png'))).rejects.toThrow();

    const rows = await readResamplingCsv(path.join(out, 'csv', 'resampling.csv'));
    const header = (await fs.readFile(path.join(out, 'csv', 'resampling.csv'), 'utf8')).split('\n')[0];
    expect(header).toBe(RESAMPLING_CSV_COLUMNS.join(','));
    const files = await listFiles(path.join(out, 'resampled_dataset'));
    expect(rows.map((r) => r.output.replace(/^resampled_dataset\//, '')).sort()).toEqual(files);
    expect(rows.every((r) => r.error === '' && r.seed === 42)).toBe(true);
    for (const split of SPLIT_NAMES) expect(rows.filter((r) => r.split === split)).toHaveLength(result.written?.[split] ?? -1);
    expect(result.written?.train).toBe(result.plan?.total);
    // augmented copies only in train; a source and its exact copies in one split
    expect(rows.filter((r) => r.split !== 'train' && r.transform !== 'copy')).toEqual([]);
    const splitOf = new Map<string, Set<string>>();
    for (const r of rows) splitOf.set(r.group, (splitOf.get(r.group) ?? new Set()).add(r.split));
    expect([...splitOf.values()].filter((s) => s.size > 1)).toEqual([]);
    const groupOf = (id: string): string | undefined => rows.find((r) => r.source === id)?.group;
    const copies = samples.filter((s) => s.duplicateOf && groupOf(s.file) !== undefined && groupOf(s.duplicateOf) !== undefined);
    expect(copies.length).toBeGreaterThan(2);
    for (const s of copies) expect(groupOf(s.file)).toBe(groupOf(s.duplicateOf ?? ''));
  });

  it('the same seed gives the same CSV; an aborted run keeps the previous outputs', async () => {
    const out = path.join(dir, 'again');
    await resampleDataset({ data, out, seed: 7, target: { distribution: 'uniform' }, ages: { max: 30 } });
    const csv = path.join(out, 'csv', 'resampling.csv');
    const first = await fs.readFile(csv);
    const abort = new AbortController();
    const stopped = resampleDataset({
      data,
      out,
      seed: 8,
      target: { distribution: 'uniform' },
      ages: { max: 30 },
      signal: abort.signal,
      onProgress: (_p, phase) => phase === 'copy' && abort.abort(new Error('stopped by the test')),
    });
    await expect(stopped).rejects.toThrow('stopped by the test');
    expect((await fs.readFile(csv)).equals(first)).toBe(true);
    for (const folder of [out, path.join(out, 'csv')]) expect((await fs.readdir(folder)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await resampleDataset({ data, out, seed: 7, target: { distribution: 'uniform' }, ages: { max: 30 } });
    expect((await fs.readFile(csv)).equals(first)).toBe(true);
  });

  it('strict: an unreadable input is refused before anything is written; without strict it is left out', async () => {
    const copy = path.join(dir, 'with-bad');
    await fs.cp(data, copy, { recursive: true });
    await fs.writeFile(path.join(copy, '30', 'broken.jpg'), 'not a jpeg');
    const strict = await resampleDataset({ data: copy, out: path.join(dir, 'strict'), strict: true, target: { distribution: 'uniform' } });
    expect(strict.outcome).toBe('refused');
    expect(strict.refusal).toMatch(/1 input image left out/);
    await expect(fs.access(path.join(dir, 'strict', 'resampled_dataset'))).rejects.toThrow();
    const lenient = await resampleDataset({ data: copy, out: path.join(dir, 'lenient'), target: { distribution: 'uniform' }, dryRun: true });
    expect(lenient.outcome).toBe('planned');
    expect(lenient.leftOut).toEqual([{ id: '30/broken.jpg', reason: expect.stringMatching(/^unsupported-format/) }]);
    await expect(fs.access(path.join(dir, 'lenient', 'resampled_dataset'))).rejects.toThrow();
  });
});

describe('resampleOptionsFromConfig', () => {
  it('carries every field of a resample config into the options, the distribution folder as baseDir', () => {
    const config: ResampleConfig = {
      seed: 7,
      ages: { min: 1, max: 100, binWidth: 5 },
      target: { distribution: 'uniform' },
      total: 500,
      split: { train: 0.6, val: 0.2, test: 0.2 },
      holdOut: { field: 'race', values: ['2'] },
      augmentation: { ...defaultResampleConfig().augmentation, maxRotation: 3 },
      output: { quality: 80, concurrency: 3 },
      minSide: 48,
    };
    expect(resampleOptionsFromConfig(config, '/configs')).toEqual({
      baseDir: '/configs',
      seed: 7,
      ages: config.ages,
      target: config.target,
      total: 500,
      split: config.split,
      holdOut: config.holdOut,
      augmentation: config.augmentation,
      quality: 80,
      concurrency: 3,
      minSide: 48,
    });
  });
});
