import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { createRng, readCsv, readDataset, decodeImage, encodeImage } from '@agekit/dataset';
import { generateSynthDataset, planSamples } from './generate';
import { renderFace, renderSample } from './faces';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('synthetic faces', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-synth-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('writes a folder-per-age dataset with a manifest, byte-identical for the same seed', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const c = path.join(dir, 'c');
    const opts = { count: 24, seed: 5, size: 40, defectRate: 0.5, duplicateRate: 0.15 };
    const samples = await generateSynthDataset({ ...opts, out: a });
    await generateSynthDataset({ ...opts, out: b });
    await generateSynthDataset({ ...opts, seed: 6, out: c });
    const ds = await readDataset(a);
    expect(ds.layout).toBe('folder-per-label');
    expect(ds.records).toHaveLength(24);
    for (const s of samples) {
      const [x, y] = await Promise.all([fs.readFile(path.join(a, s.file)), fs.readFile(path.join(b, s.file))]);
      expect(sha(x)).toBe(sha(y));
      expect(Number(s.file.split('/')[0])).toBe(s.age);
    }
    const manifest = await readCsv(path.join(a, 'manifest.csv'));
    expect(manifest.map((r) => r.file)).toEqual(samples.map((s) => s.file));
    const dup = samples.find((s) => s.duplicateOf);
    expect(dup).toBeDefined();
    expect(sha(await fs.readFile(path.join(a, dup!.file)))).toBe(sha(await fs.readFile(path.join(a, dup!.duplicateOf!))));
    const other = await readCsv(path.join(c, 'manifest.csv'));
    expect(other.map((r) => r.age)).not.toEqual(manifest.map((r) => r.age));
  });

  it('plans ages in range, defects at about the requested rate, and rejects bad options', () => {
    const plan = planSamples({ out: '', count: 2000, seed: 1, minAge: 1, maxAge: 90, defectRate: 0.3 });
    expect(Math.min(...plan.map((s) => s.age))).toBeGreaterThanOrEqual(1);
    expect(Math.max(...plan.map((s) => s.age))).toBeLessThanOrEqual(90);
    const defective = plan.filter((s) => s.defect !== 'none').length / plan.length;
    expect(defective).toBeGreaterThan(0.25);
    expect(defective).toBeLessThan(0.35);
    expect(() => planSamples({ out: '', count: 0, seed: 1 })).toThrow(/count/);
    expect(() => planSamples({ out: '', count: 5, seed: 1, minAge: 50, maxAge: 20 })).toThrow(/age range/);
  });

  it('carries age cues: wrinkles deepen and hair greys as the same identity ages', () => {
    const size = 64;
    const identities = 8;
    let greyer = 0;
    for (let id = 0; id < identities; id++) {
      // what the wrinkle layer changes, at each age
      const wrinkleEffect = (age: number): number => {
        const withLines = renderFace(age, createRng(id), size);
        const without = renderFace(age, createRng(id), size, { wrinkles: false });
        let sum = 0;
        for (let i = 0; i < withLines.length; i++) sum += Math.abs(withLines[i] - without[i]);
        return sum / withLines.length;
      };
      const effects = [20, 30, 45, 60].map(wrinkleEffect);
      for (let k = 1; k < effects.length; k++) expect(effects[k]).toBeGreaterThan(effects[k - 1]);
      // hair at the top centre of the head: saturation (max - min channel) falls, or it lightens, as it greys
      const young = renderFace(22, createRng(id), size);
      const old = renderFace(65, createRng(id), size);
      const i = (Math.round(size * 0.17) * size + size / 2) * 3;
      const sat = (px: Float32Array): number => Math.max(px[i], px[i + 1], px[i + 2]) - Math.min(px[i], px[i + 1], px[i + 2]);
      const lum = (px: Float32Array): number => px[i] + px[i + 1] + px[i + 2];
      if (lum(old) > lum(young) + 30 || sat(old) < sat(young) - 10) greyer++;
    }
    expect(greyer).toBeGreaterThanOrEqual(identities - 1);
  });

  it('applies the quality defects it records', async () => {
    const clean = renderSample({ age: 30, size: 64, defect: 'none' }, createRng(3));
    const dark = renderSample({ age: 30, size: 64, defect: 'dark' }, createRng(3));
    const bright = renderSample({ age: 30, size: 64, defect: 'bright' }, createRng(3));
    const tiny = renderSample({ age: 30, size: 64, defect: 'tiny' }, createRng(3));
    const mean = (d: Uint8Array): number => d.reduce((s, v) => s + v, 0) / d.length;
    expect(mean(dark.data)).toBeLessThan(mean(clean.data) * 0.3);
    expect(mean(bright.data)).toBeGreaterThan(200);
    expect(tiny.width).toBeLessThan(64 * 0.61);
    const decoded = await decodeImage(await encodeImage(clean, 'png'));
    expect(decoded.width).toBe(64);
  });
});
