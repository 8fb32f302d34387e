import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, defaultNormalization, resolveTask, saveModel, type AgekitModelMetadata } from '@agekit/model';
import { generateSynthDataset } from '@agekit/synth';
import { runExporter, type ExporterIo } from './main';

jest.setTimeout(180_000);

let work: string;
let faces: string;

function capture(): ExporterIo & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l) };
}

async function saveTrainedLookingModel(dir: string, seed: number): Promise<void> {
  const task = resolveTask({ kind: 'classification', minAge: 20, maxAge: 24 });
  const model = buildModel({ architecture: 'squeezenet', size: 32, channels: 3, classes: task.labels.length, head: 'classification', seed });
  const metadata: AgekitModelMetadata = {
    format: 'agekit-model',
    version: 1,
    architecture: 'squeezenet',
    parameters: model.countParams(),
    task,
    input: { layout: 'NHWC', size: 32, channels: 3, colour: 'rgb', resize: 'fill', normalization: defaultNormalization(3) },
    output: { kind: 'probabilities' },
    backend: 'cpu',
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  await saveModel(model, dir, metadata);
  model.dispose();
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  work = mkdtempSync(join(tmpdir(), 'agekit-exporter-'));
  faces = join(work, 'faces');
  // the app test checks the wiring; the 64-image verification of every architecture is in libs/onnx's bundle.spec.ts
  await generateSynthDataset({ out: faces, count: 20, seed: 3, size: 48, duplicateRate: 0 });
  await saveTrainedLookingModel(join(work, 'model'), 1);
  await saveTrainedLookingModel(join(work, 'other-model'), 2);
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('agekit-exporter', () => {
  it('export writes a verified bundle; verify re-runs it; a different model fails verification', async () => {
    const out = join(work, 'dist', 'bundle');
    const io = capture();
    const code = await runExporter(['export', '--model', join(work, 'model'), '--out', out, '--data', faces, '--min-images', '20', '--json'], io);
    expect(io.lines.join('\n')).toContain('onnxruntime vs tfjs (cpu): 20 images');
    expect(code).toBe(0);
    for (const f of ['model.onnx', 'preprocess.json', 'labels.json', 'bundle.json', 'README.md', 'cpp/main.cpp', 'cpp/CMakeLists.txt']) expect(existsSync(join(out, f))).toBe(true);
    const labels = JSON.parse(readFileSync(join(out, 'labels.json'), 'utf8'));
    expect(labels.labels.map((l: { age: number }) => l.age)).toEqual([20, 21, 22, 23, 24]);
    const pre = JSON.parse(readFileSync(join(out, 'preprocess.json'), 'utf8'));
    expect(pre).toMatchObject({ width: 32, height: 32, channels: 3, colorOrder: 'RGB', layout: 'NCHW', scale: 1, valueRange: [0, 255] });
    const result = JSON.parse(io.lines[io.lines.length - 1]);
    expect(result.ok).toBe(true);
    expect(result.verification.tfjs.maxAbsDiff).toBeLessThanOrEqual(1e-4);

    const again = capture();
    expect(await runExporter(['verify', '--bundle', out, '--data', faces, '--min-images', '20'], again)).toBe(0);
    expect(again.lines.join('\n')).toContain('verify ok');

    const wrong = capture();
    expect(await runExporter(['verify', '--bundle', out, '--data', faces, '--min-images', '20', '--model', join(work, 'other-model')], wrong)).toBe(1);
    expect(wrong.lines.join('\n')).toMatch(/FAILED: largest absolute difference/);
  });

  it('--quantize int8 / fp16 write bundles that say their format and verify with the MAE change on the labelled --data', async () => {
    for (const [flag, format] of [['int8', 'int8'], ['fp16', 'float16']]) {
      const out = join(work, 'dist', `bundle-${flag}`);
      const io = capture();
      const code = await runExporter(['export', '--model', join(work, 'model'), '--out', out, '--data', faces, '--min-images', '20', '--quantize', flag, '--json'], io);
      const text = io.lines.join('\n');
      expect(code).toBe(0);
      expect(text).toMatch(/MAE on 20 labelled images: tfjs [0-9.]+, onnx [0-9.]+ \(change -?[0-9.]+ years\)/);
      if (flag === 'int8') expect(text).toMatch(/int8: calibrated on 20 images \(minmax\)/);
      expect(JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8')).modelFormat).toBe(format);
      expect(JSON.parse(readFileSync(join(out, 'preprocess.json'), 'utf8')).modelFormat).toBe(format);
      const result = JSON.parse(io.lines[io.lines.length - 1]);
      expect(Math.abs(result.verification.tfjs.mae.change)).toBeLessThanOrEqual(0.1);
    }
    const strict = capture();
    const args = ['verify', '--bundle', join(work, 'dist', 'bundle-int8'), '--data', faces, '--min-images', '20', '--max-mae-change', '1e-9'];
    expect(await runExporter(args, strict)).toBe(1);
    expect(strict.lines.join('\n')).toMatch(/MAE changes by/);
    const bad = capture();
    expect(await runExporter(['export', '--model', join(work, 'model'), '--out', join(work, 'x'), '--data', faces, '--quantize', 'int4'], bad)).toBe(2);
  });

  it('--int8-placement reaches the quantizer (bundle.json records it) and rejects unknown keys or values (exit 2)', async () => {
    const out = join(work, 'dist', 'bundle-int8-placement');
    const io = capture();
    const args = ['export', '--model', join(work, 'model'), '--out', out, '--data', faces, '--min-images', '20', '--quantize', 'int8', '--no-verify'];
    expect(await runExporter([...args, '--int8-placement', 'stemConv=float,add=float'], io)).toBe(0);
    const placement = JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8')).quantization.placement;
    expect(placement).toMatchObject({ stemConv: 'float', add: 'float', depthwiseConv: 'int8' });
    for (const wrong of ['stem=float', 'add=int4', 'depthwiseConv']) {
      const bad = capture();
      expect(await runExporter([...args, '--force', '--int8-placement', wrong], bad)).toBe(2);
      expect(bad.lines.join('\n')).toMatch(/--int8-placement/);
    }
  });

  it('fails (exit 1) when there are fewer readable images than --min-images (default 64)', async () => {
    const io = capture();
    expect(await runExporter(['verify', '--bundle', join(work, 'dist', 'bundle'), '--data', faces, '--images', '4'], io)).toBe(1);
    expect(io.lines.join('\n')).toMatch(/only 4 images could be compared \(at least 64/);
  });

  it('--version prints the package version; no command puts the usage on stderr (exit 2)', async () => {
    const version = { out: [] as string[], err: [] as string[] };
    expect(await runExporter(['--version'], { out: (l) => version.out.push(l), err: (l) => version.err.push(l) })).toBe(0);
    expect(version.out.join('\n')).toMatch(/^\d+\.\d+\.\d+/);
    const none = { out: [] as string[], err: [] as string[] };
    expect(await runExporter([], { out: (l) => none.out.push(l), err: (l) => none.err.push(l) })).toBe(2);
    expect(none.out).toEqual([]);
    expect(none.err.join('\n')).toMatch(/usage:/);
  });

  it('exits 2 on bad usage and 1 on a missing bundle', async () => {
    expect(await runExporter([], capture())).toBe(2);
    expect(await runExporter(['frobnicate'], capture())).toBe(2);
    expect(await runExporter(['export', '--model', join(work, 'model')], capture())).toBe(2);
    expect(await runExporter(['export', '--model', join(work, 'model'), '--out', join(work, 'x'), '--no-verify', '--layout', 'CHW'], capture())).toBe(2);
    expect(await runExporter(['verify', '--bundle', join(work, 'model'), '--data', faces, '--bogus'], capture())).toBe(2);
    const io = capture();
    expect(await runExporter(['verify', '--bundle', join(work, 'nope'), '--data', faces], io)).toBe(1);
    expect(io.lines.join('\n')).toContain('model.onnx: missing');
  });

  it('never deletes what is at --out, --model or --data; writes a bundle only once verified', async () => {
    const model = join(work, 'model');
    const tree = (dir: string): string[] => (readdirSync(dir, { recursive: true }) as string[]).sort();
    const exportTo = async (out: string, ...more: string[]): Promise<{ code: number; text: string }> => {
      const io = capture();
      const code = await runExporter(['export', '--model', model, '--out', out, '--data', faces, '--min-images', '20', ...more], io);
      return { code, text: io.lines.join('\n') };
    };
    const mine = join(work, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'thesis.txt'), 'years of work');
    const file = join(work, 'a-file');
    writeFileSync(file, 'user data');
    const modelBefore = tree(model);
    const facesBefore = tree(faces);
    for (const [out, why] of [
      [mine, /is not empty and is not a bundle/],
      [file, /exists and is not a folder/],
      [model, /is inside the input/],
      [join(model, 'bundle'), /is inside the input/],
      [faces, /is inside the input/],
      [work, /holds the input/],
    ] as const) {
      const r = await exportTo(out);
      expect([out, r.code]).toEqual([out, 2]);
      expect(r.text).toMatch(why);
      expect(r.text).not.toMatch(/^\s+at /m);
    }
    expect(readFileSync(join(mine, 'thesis.txt'), 'utf8')).toBe('years of work');
    expect(readFileSync(file, 'utf8')).toBe('user data');
    expect(tree(model)).toEqual(modelBefore);
    expect(tree(faces)).toEqual(facesBefore);

    // a previous bundle is replaced only with --force; a failed export leaves it as it was and no temporary behind
    const out = join(work, 'replace', 'bundle');
    expect((await exportTo(out)).code).toBe(0);
    const first = readFileSync(join(out, 'model.onnx'));
    const again = await exportTo(out);
    expect(again.code).toBe(2);
    expect(again.text).toMatch(/holds a bundle already: pass --force/);
    const failed = await exportTo(out, '--force', '--min-images', '1000');
    expect(failed.code).toBe(1);
    expect(failed.text).toMatch(/nothing written/);
    expect(readFileSync(join(out, 'model.onnx')).equals(first)).toBe(true);
    const missingData = capture();
    expect(await runExporter(['export', '--model', model, '--out', join(work, 'never'), '--data', join(work, 'nonexistent')], missingData)).toBe(1);
    expect(existsSync(join(work, 'never'))).toBe(false);
    expect((await exportTo(out, '--force')).code).toBe(0);
    expect(readdirSync(join(work, 'replace'))).toEqual(['bundle']);
  }, 120_000);
});
