import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '@agekit/dataset';
import type { PhotoPrediction, PredictPhotosResult } from '@agekit/face';
import { initBackend } from '@agekit/runtime';
import { generateSynthDataset } from '@agekit/synth';
import { runCli } from '../main';
import { captureTerminal } from '../lib/terminal.testing';
import { exportTinyBundle } from '../serve/test-bundle.testing';

jest.setTimeout(180_000);

/** The JSON `agekit predict --json` prints. */
type PredictSummary = PredictPhotosResult & { bundle: string };
type Ok = Extract<PhotoPrediction, { ok: true }>;

async function sha(file: string): Promise<string> {
  return createHash('sha256').update(await fs.readFile(file)).digest('hex');
}

describe('agekit predict', () => {
  let tmp: string;
  let bundle: string;
  let data: string;
  beforeAll(async () => {
    await initBackend(); // the detector's backend (wasm here), chosen once as the CLI does
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-predict-'));
    bundle = await exportTinyBundle(tmp);
    data = path.join(tmp, 'faces');
    await generateSynthDataset({ out: data, count: 5, seed: 4, size: 80, defectRate: 0, duplicateRate: 0 });
    await fs.writeFile(path.join(data, 'broken.jpg'), Buffer.from('this is not a jpeg'));
    await sharp({ create: { width: 50, height: 40, channels: 4, background: { r: 200, g: 10, b: 10, alpha: 1 } } }).webp().toFile(path.join(data, 'red.webp'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('--no-detect --json --annotate: one face per image (the whole image), the bad file reported by name, annotated copies written', async () => {
    const files = (await fs.readdir(data, { recursive: true })).map(String).filter((f) => /\.(jpg|webp)$/.test(f));
    const before = await Promise.all(files.map((f) => sha(path.join(data, f))));
    const annotated = path.join(tmp, 'annotated');
    const cap = captureTerminal(true);
    const code = await runCli(['predict', data, '--bundle', bundle, '--no-detect', '--json', '--annotate', annotated, '--top', '2'], cap.term);
    expect(code).toBe(0);
    const summary = JSON.parse(cap.stdout()) as PredictSummary;
    expect(summary.images).toBe(7);
    expect(summary.failed).toBe(1);
    expect(summary.faces).toBe(6);
    expect(summary.detect).toBe(false);
    const bad = summary.results.filter((r) => !r.ok);
    expect(bad).toHaveLength(1);
    expect(bad[0].file).toMatch(/broken\.jpg$/);
    expect(bad[0].ok === false && bad[0].error.message).toMatch(/broken\.jpg: (corrupt|unsupported-format)/);
    expect(cap.stderr()).toMatch(/broken\.jpg/);

    const { loadBundlePredictor } = await import('@agekit/onnx'); // loaded lazily, as the commands do
    const predictor = await loadBundlePredictor(bundle, { top: 2 });
    try {
      for (const r of summary.results.filter((x): x is Ok => x.ok)) {
        expect(r.faces).toHaveLength(1);
        const [face] = r.faces;
        expect(face.box).toEqual({ x: 0, y: 0, width: r.width, height: r.height });
        expect(face.score).toBeNull();
        expect(face.top).toHaveLength(2);
        expect(face.group).toBeNull();
        expect(face.expectedAge).toBeGreaterThanOrEqual(1);
        expect(face.expectedAge).toBeLessThanOrEqual(80);
        expect(face.label).toBe(`${Math.round(face.expectedAge as number)} y (${face.top[0].label} ${Math.round(face.top[0].probability * 100)}%)`);
        // the command's answer is the predictor's on the decoded photo
        const [direct] = await predictor.predict([await decodeImage(path.join(path.dirname(data), r.file.slice(r.file.indexOf('faces'))))]);
        expect(Math.abs((face.expectedAge as number) - (direct.expectedAge as number))).toBeLessThanOrEqual(1e-6);
        // annotated copy: same size, named like the input (WebP becomes name.webp.png), differs from the input along the box
        expect(r.annotated).toBeDefined();
        const rel = path.relative(data, path.join(path.dirname(data), r.file.slice(r.file.indexOf('faces'))));
        expect(r.annotated).toBe(path.join(annotated, rel.endsWith('.webp') ? `${rel}.png` : rel));
        const meta = await sharp(r.annotated as string).metadata();
        expect([meta.width, meta.height, meta.format]).toEqual([r.width, r.height, rel.endsWith('.webp') ? 'png' : 'jpeg']);
      }
    } finally {
      await predictor.dispose();
    }
    const red = summary.results.find((r) => r.file.endsWith('red.webp')) as Ok;
    const { data: px, info } = await sharp(red.annotated as string).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => Array.from(px.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3));
    expect(at(0, info.height - 1)).not.toEqual([200, 10, 10]); // the box runs along the image border
    expect(await fs.readdir(annotated, { recursive: true })).not.toContain('broken.jpg');
    // inputs untouched
    expect(await Promise.all(files.map((f) => sha(path.join(data, f))))).toEqual(before);
  });

  it('--strict fails at the end (after predicting every other image); without --json prints per face', async () => {
    const cap = captureTerminal(false);
    const code = await runCli(['predict', data, '--bundle', bundle, '--no-detect', '--strict'], cap.term);
    expect(code).toBe(1);
    expect(cap.stdout()).toMatch(/red\.webp {2}50x40 {2}1 face\n {2}#1 {2}box 0,0 50x40 {2}age \d+\.\d {2}top \d+ \d+%, \d+ \d+%, \d+ \d+%/);
    expect(cap.stdout()).toMatch(/predict: 7 images, 6 faces, 1 failed/);
    expect(cap.stderr()).toMatch(/--strict: 1 image could not be read/);
  });

  it('refuses an --annotate folder that would overwrite the inputs, a missing bundle and bad flags (exit 2)', async () => {
    let cap = captureTerminal(true);
    expect(await runCli(['predict', data, '--bundle', bundle, '--no-detect', '--annotate', data], cap.term)).toBe(2);
    expect(cap.stderr()).toMatch(/would overwrite the input/);
    cap = captureTerminal(true);
    expect(await runCli(['predict', data, '--bundle', path.join(tmp, 'nope')], cap.term)).toBe(2);
    expect(cap.stderr()).toMatch(/nope: no such folder/);
    cap = captureTerminal(true);
    expect(await runCli(['predict', data, '--bundle', bundle, '--min-score', '2'], cap.term)).toBe(2);
    cap = captureTerminal(true);
    expect(await runCli(['predict', data, '--bundle', data, '--no-detect'], cap.term)).toBe(1); // a folder that is not a bundle
    expect(cap.stderr()).toMatch(/cannot load the model: .*model\.onnx: missing/);
    cap = captureTerminal(true);
    expect(await runCli(['predict', '--bundle', bundle], cap.term)).toBe(2);
  });

  it('a missing path is reported, the other images are still predicted, and the exit code says it failed', async () => {
    const cap = captureTerminal(true);
    const one = path.join(data, 'red.webp');
    // the other image is still predicted, but a path named on the command line is missing: the run failed
    expect(await runCli(['predict', path.join(tmp, 'missing.jpg'), one, '--bundle', bundle, '--no-detect', '--json'], cap.term)).toBe(1);
    const summary = JSON.parse(cap.stdout()) as PredictSummary;
    expect(summary.results.map((r) => (r.ok ? 'ok' : r.error.message))).toEqual([expect.stringMatching(/missing\.jpg/), 'ok']);
    expect(summary.results[0].ok === false && summary.results[0].error.message).toMatch(/missing\.jpg/);
  });

  it('with detection: finds the 3 faces of face-api sample1.jpg, left to right, and annotates the photo', async () => {
    const sample = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');
    const annotated = path.join(tmp, 'annotated-detect');
    const cap = captureTerminal(true);
    const code = await runCli(['predict', sample, '--bundle', bundle, '--json', '--annotate', annotated], cap.term);
    expect(code).toBe(0);
    const summary = JSON.parse(cap.stdout()) as PredictSummary;
    expect(summary.detect).toBe(true);
    const [r] = summary.results as Ok[];
    expect([r.width, r.height]).toEqual([1920, 1280]);
    expect(r.faces).toHaveLength(3);
    for (const [i, face] of r.faces.entries()) {
      expect(face.score).toBeGreaterThanOrEqual(0.5);
      expect(face.box.width).toBeGreaterThan(100); // faces in this photo are ~180-250 px wide
      expect(face.box.width).toBeLessThan(400);
      expect(face.expectedAge).toBeGreaterThanOrEqual(1);
      expect(face.expectedAge).toBeLessThanOrEqual(80);
      if (i > 0) expect(face.box.x).toBeGreaterThan(r.faces[i - 1].box.x + r.faces[i - 1].box.width);
    }
    const meta = await sharp(path.join(annotated, 'sample1.jpg')).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([1920, 1280, 'jpeg']);
  });
});
