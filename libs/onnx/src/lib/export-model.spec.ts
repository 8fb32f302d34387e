import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel } from '@agekit/model';
import { generateSynthDataset } from '@agekit/synth';
import { BUNDLE_ENTRIES, type ExportModelDescription } from './bundle';
import { exportModel, sampleImageFiles, type ExportEvent, type ExportModelOptions } from './export-model';

jest.setTimeout(120_000);

const SIZE = 32;
const LABELS = ['20', '25', '30', '35', '40'];
const description: ExportModelDescription = {
  name: 'simple-cnn',
  task: 'classification',
  labels: LABELS,
  labelAges: LABELS.map(Number),
  input: { width: SIZE, height: SIZE, channels: 3, resize: 'lanczos3', scale: 1, mean: [124, 116, 104], std: [58, 57, 57] },
};
let work: string;
let faces: string;
let model: tf.LayersModel;
let common: Omit<ExportModelOptions, 'out'>;

beforeAll(async () => {
  await tf.setBackend('cpu'); // exact reference outputs
  work = mkdtempSync(join(tmpdir(), 'agekit-onnx-export-'));
  faces = join(work, 'faces');
  await generateSynthDataset({ out: faces, count: 12, seed: 3, size: 48, duplicateRate: 0 });
  model = buildModel({ architecture: 'simple-cnn', size: SIZE, channels: 3, classes: LABELS.length, head: 'classification', seed: 5 });
  mkdirSync(join(work, 'model'));
  common = { model, description, sourceModel: join(work, 'model'), verification: { data: faces, minImages: 8 } };
}, 180_000);

afterAll(() => {
  model?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Names in `work` that are not the fixtures: the bundles and any staging folder left behind. */
const leftovers = (): string[] => readdirSync(work).filter((name) => !['faces', 'model'].includes(name)).sort();

describe('exportModel (the export stage)', () => {
  it('converts, verifies on the labelled images and only then commits the bundle', async () => {
    const out = join(work, 'bundle');
    const events: ExportEvent['kind'][] = [];
    const phases = new Set<string>();
    const result = await exportModel({ ...common, out, onEvent: (e) => events.push(e.kind), onProgress: (p) => phases.add(p.phase) });
    expect(result.committed).toBe(true);
    expect(result.bundle).toBe(out);
    expect(result.verification?.passed).toBe(true);
    expect(result.verification?.tfjs.images).toBe(12);
    expect(result.verification?.tfjs.mae?.images).toBe(12); // the folder-per-age ages were found
    expect(events).toEqual(['converted', 'verifying']);
    expect([...phases]).toEqual(['verify']);
    expect(readdirSync(out).sort()).toEqual([...BUNDLE_ENTRIES].sort());
    expect(JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8'))).toMatchObject({ sourceModel: join(work, 'model'), modelFormat: 'float32' });
    expect(leftovers()).toEqual(['bundle']);
  });

  it('an unverified bundle is not committed: out is left as it was (absent, or the previous bundle with force)', async () => {
    const out = join(work, 'unverified');
    const failing = { ...common, verification: { data: faces, minImages: 1000 } };
    const result = await exportModel({ ...failing, out });
    expect(result.committed).toBe(false);
    expect(result.verification?.passed).toBe(false);
    expect(existsSync(out)).toBe(false);
    const previous = join(work, 'bundle');
    const before = readFileSync(join(previous, 'model.onnx'));
    expect((await exportModel({ ...failing, out: previous, force: true })).committed).toBe(false);
    expect(readFileSync(join(previous, 'model.onnx')).equals(before)).toBe(true);
    expect(leftovers()).toEqual(['bundle']);
  });

  it('stopped by its signal after the conversion: throws and writes nothing', async () => {
    const controller = new AbortController();
    const out = join(work, 'stopped');
    const run = exportModel({ ...common, out, signal: controller.signal, onEvent: () => controller.abort(new Error('stopped by the test')) });
    await expect(run).rejects.toThrow('stopped by the test');
    expect(existsSync(out)).toBe(false);
    expect(leftovers()).toEqual(['bundle']);
  });

  it('refuses an out that holds other files, and a previous bundle without force, touching neither', async () => {
    const out = join(work, 'mine');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'keep');
    await expect(exportModel({ ...common, out, force: true })).rejects.toThrow(/not a bundle/);
    expect(readdirSync(out)).toEqual(['notes.txt']);
    await expect(exportModel({ ...common, out: join(work, 'bundle') })).rejects.toThrow(/--force/);
    expect(leftovers()).toEqual(['bundle', 'mine']);
  });

  it('a missing verification folder fails before anything is written', async () => {
    const out = join(work, 'never');
    await expect(exportModel({ ...common, out, verification: { data: join(work, 'nonexistent') } })).rejects.toThrow(/no such folder/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('sampleImageFiles', () => {
  it('lists images deterministically and evenly spread', async () => {
    const all = await sampleImageFiles(faces, 1000);
    expect(all).toHaveLength(12);
    const some = await sampleImageFiles(faces, 4);
    expect(some).toEqual([0, 3, 6, 9].map((i) => all[i]));
    expect(some).toEqual(await sampleImageFiles(faces, 4));
  });
});
