import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { createRng, readDataset, StageOutputs, type DatasetRecord } from '@agekit/dataset';
import { ageClasses, classOfAge, uniformDistribution } from './distribution';
import { countByLabel } from './plan';
import { planDatasetResampling, writeResampledDataset, type PlanDatasetResamplingOptions } from './pipeline';

jest.setTimeout(60_000);

interface Sample {
  file: string;
  age: number;
  duplicateOf?: string;
}

/**
 * A small folder-per-age dataset made here (no dependency on tools/): seeded noise images with a
 * skewed age spread, and `duplicateRate` exact copies of earlier images (as scraped sets have).
 */
async function makeDataset(out: string, count: number, seed: number, duplicateRate: number): Promise<Sample[]> {
  const rng = createRng(seed);
  const samples: Sample[] = [];
  const bytes = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const name = `img_${String(i).padStart(3, '0')}.jpg`;
    if (samples.length > 0 && rng.next() < duplicateRate) {
      const original = samples[rng.int(samples.length)];
      const source = original.duplicateOf ?? original.file;
      const age = Number(source.split('/')[0]);
      samples.push({ file: `${age}/${name}`, age, duplicateOf: source });
      await fs.mkdir(path.join(out, String(age)), { recursive: true });
      await fs.writeFile(path.join(out, `${age}/${name}`), bytes.get(source) as Buffer);
      continue;
    }
    const age = 18 + Math.min(11, Math.floor(12 * rng.next() ** 1.8));
    const raw = Buffer.alloc(24 * 24 * 3);
    for (let k = 0; k < raw.length; k++) raw[k] = rng.int(256);
    const jpeg = await sharp(raw, { raw: { width: 24, height: 24, channels: 3 } }).jpeg().toBuffer();
    const file = `${age}/${name}`;
    bytes.set(file, jpeg);
    await fs.mkdir(path.join(out, String(age)), { recursive: true });
    await fs.writeFile(path.join(out, file), jpeg);
    samples.push({ file, age });
  }
  return samples;
}

describe('planDatasetResampling + writeResampledDataset (synthetic data set)', () => {
  let dir: string;
  let records: DatasetRecord[];
  let samples: Sample[];
  const classes = ageClasses({ minAge: 20, maxAge: 29 });
  const options = (seed: number): PlanDatasetResamplingOptions => ({
    seed,
    strategy: { kind: 'distribution', distribution: uniformDistribution({ minAge: 20, maxAge: 29 }) },
    classOf: (r) => (r.age === undefined ? undefined : classOfAge(classes, r.age)?.label),
  });

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'resample-pipeline-'));
    // many exact duplicates, so that grouping matters
    samples = await makeDataset(path.join(dir, 'data'), 200, 4, 0.15);
    const duplicateOf = new Map(samples.map((s) => [s.file, s.duplicateOf ?? s.file]));
    const dataset = await readDataset(path.join(dir, 'data'), { groupOf: (r) => duplicateOf.get(r.id) ?? r.id });
    records = dataset.records;
  });

  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('splits first, never puts a source, its duplicates or its augmented copies in two splits', () => {
    const result = planDatasetResampling(records, options(1));
    expect(samples.filter((s) => s.duplicateOf).length).toBeGreaterThan(10);
    const splitOfGroup = new Map<string, Set<string>>();
    const splitOfSource = new Map<string, Set<string>>();
    for (const item of result.items) {
      const add = (m: Map<string, Set<string>>, k: string): void => {
        m.set(k, (m.get(k) ?? new Set()).add(item.split));
      };
      add(splitOfGroup, item.record.group);
      add(splitOfSource, item.record.id);
    }
    expect([...splitOfGroup.values()].filter((s) => s.size > 1)).toEqual([]);
    expect([...splitOfSource.values()].filter((s) => s.size > 1)).toEqual([]);
    // augmentation only in train; val/test are the natural splits, unchanged
    expect(result.items.filter((i) => i.copy > 0 && i.split !== 'train')).toEqual([]);
    expect(result.items.filter((i) => i.split === 'val')).toHaveLength(result.splitSizes.val);
    expect(result.items.filter((i) => i.split === 'test')).toHaveLength(result.splitSizes.test);
    // ages 18-19 are outside the range
    expect(result.excluded.every((r) => r.age === 18 || r.age === 19)).toBe(true);
    expect(result.excluded.length).toBe(records.filter((r) => (r.age ?? 0) < 20).length);
    // the training split reaches the plan exactly
    const train = countByLabel(result.items.filter((i) => i.split === 'train'), (i) => i.label);
    for (const row of result.plan.rows) expect(train.get(row.label) ?? 0).toBe(row.targetCount);
    expect(result.plan.total).toBe(result.splitSizes.train);
    expect(new Set(result.items.map((i) => i.output)).size).toBe(result.items.length);
  });

  it('holdOut: a held-out face, its duplicates and its group go to heldout only, never to train (as source or augmented copy)', () => {
    // one image in seven is of the held-out population (extra.race '2', as UTKFace's Asian faces)
    const withRace = records.map((r, i) => ({ ...r, extra: { race: i % 7 === 0 ? '2' : '0' } }));
    const result = planDatasetResampling(withRace, { ...options(1), holdOut: { field: 'race', values: ['2'] } });
    const heldGroups = new Set(withRace.filter((r) => r.extra.race === '2' && (r.age ?? 0) >= 20).map((r) => r.group));
    // some held-out groups also hold images of another race (duplicates of one source): they go too
    expect(withRace.some((r) => heldGroups.has(r.group) && r.extra.race !== '2')).toBe(true);
    const heldout = result.items.filter((i) => i.split === 'heldout');
    expect(new Set(heldout.map((i) => i.record.group))).toEqual(heldGroups);
    expect(heldout.every((i) => i.copy === 0)).toBe(true);
    expect(heldout).toHaveLength(result.splitSizes.heldout);
    expect(result.items.filter((i) => i.split !== 'heldout' && heldGroups.has(i.record.group))).toEqual([]);
    expect(heldout.every((i) => i.output.startsWith('heldout/'))).toBe(true);
    // without the option there is no held-out split and those faces are trained on
    const plain = planDatasetResampling(withRace, options(1));
    expect(plain.splitSizes.heldout).toBe(0);
    expect(plain.items.some((i) => i.split === 'train' && heldGroups.has(i.record.group))).toBe(true);
  });

  it('same seed -> identical files; another seed -> another selection', async () => {
    const a = planDatasetResampling(records, options(7));
    const b = planDatasetResampling(records, options(7));
    const c = planDatasetResampling(records, options(8));
    expect(b.items.map((i) => i.output)).toEqual(a.items.map((i) => i.output));
    expect(c.items.map((i) => `${i.split}:${i.output}`)).not.toEqual(a.items.map((i) => `${i.split}:${i.output}`));
    const outA = path.join(dir, 'outA');
    const outB = path.join(dir, 'outB');
    const wa = await writeResampledDataset(a.items, { outDir: outA });
    const wb = await writeResampledDataset(b.items, { outDir: outB, concurrency: 1 });
    expect(wa.failed).toBe(0);
    expect(wa.augmented).toBeGreaterThan(0);
    expect(wb.items.map((i) => i.transform)).toEqual(wa.items.map((i) => i.transform));
    for (const item of a.items) {
      const [x, y] = await Promise.all([fs.readFile(path.join(outA, item.output)), fs.readFile(path.join(outB, item.output))]);
      expect(Buffer.compare(x, y)).toBe(0);
    }
    const aug = a.items.find((i) => i.copy > 0);
    if (!aug) throw new Error('no augmented copy');
    const meta = await sharp(path.join(outA, aug.output)).metadata();
    const src = await sharp(aug.record.file).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([src.width, src.height, 3]);
    // staged by StageOutputs, the folder is replaced whole on a second write, and no temporary folder stays behind
    await StageOutputs.write({ inputs: [], folders: [outA] }, (outputs) => writeResampledDataset(c.items, { outDir: outputs.path(outA) }));
    const left = (await fs.readdir(dir)).filter((n) => n.includes('.tmp-'));
    expect(left).toEqual([]);
    const files = await fs.readdir(path.join(outA, 'train', '25'));
    expect(files.sort()).toEqual(c.items.filter((i) => i.output.startsWith('train/25/')).map((i) => path.basename(i.output)).sort());
  });

  it('a missing source becomes an error row, or aborts with strict (leaving nothing behind)', async () => {
    const plan = planDatasetResampling(records, options(3));
    const broken = plan.items.map((i, n) => (n === 0 || i.copy > 0 ? { ...i, record: { ...i.record, file: path.join(dir, 'nope.jpg') } } : i));
    const outDir = path.join(dir, 'broken');
    const result = await writeResampledDataset(broken, { outDir });
    expect(result.failed).toBe(1 + plan.items.filter((i) => i.copy > 0).length);
    expect(result.items[0].error).toMatch(/nope\.jpg/);
    const strictDir = path.join(dir, 'strict');
    await expect(
      StageOutputs.write({ inputs: [], folders: [strictDir] }, (outputs) => writeResampledDataset(broken, { outDir: outputs.path(strictDir), strict: true })),
    ).rejects.toThrow(/failed \(strict\)/);
    await expect(fs.access(strictDir)).rejects.toThrow();
    expect((await fs.readdir(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });
});
