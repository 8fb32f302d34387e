import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage, type Progress } from '@agekit/dataset';
import { generateSynthDataset } from '@agekit/synth';
import { annotatedName, PhotoInputError, PhotoModelLoadError, predictPhotos, type DrawAnnotations, type PhotoPrediction } from './predict-photos';
import { recordingPredictor } from './predictor.testing';

type Ok = Extract<PhotoPrediction, { ok: true }>;

const sha = async (file: string): Promise<string> => createHash('sha256').update(await fs.readFile(file)).digest('hex');

/** Draws nothing: the copy's bytes name the format asked for and the labels, so a test can read them back. */
const drawLabels: DrawAnnotations = async (_image, faces, { format }) => Buffer.from(`${format}:${faces.map((f) => f.label).join('|')}`);

describe('predictPhotos', () => {
  let tmp: string;
  let data: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-predict-photos-'));
    data = path.join(tmp, 'faces');
    await generateSynthDataset({ out: data, count: 4, seed: 3, size: 48, defectRate: 0, duplicateRate: 0 });
    await fs.writeFile(path.join(data, 'broken.jpg'), 'this is not a jpeg');
    await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 77, g: 1, b: 2 } } }).webp().toFile(path.join(data, 'red.webp'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('each photo is predicted (whole image without detection), the bad file is a row naming it, copies are annotated, inputs untouched', async () => {
    const files = (await fs.readdir(data, { recursive: true })).map(String).filter((f) => /\.(jpg|webp)$/.test(f));
    const before = await Promise.all(files.map((f) => sha(path.join(data, f))));
    const predictor = recordingPredictor();
    const annotate = path.join(tmp, 'annotated');
    const progress: Progress[] = [];
    const seen: PhotoPrediction[] = [];
    const result = await predictPhotos({
      paths: ['faces'],
      cwd: tmp,
      loadPredictor: async () => predictor,
      detect: false,
      annotate: { dir: annotate, draw: drawLabels },
      onProgress: (p) => progress.push(p),
      onResult: (r) => seen.push(r),
    });
    expect(result).toMatchObject({ detect: false, images: 6, failed: 1, faces: 5 });
    expect(seen).toEqual(result.results);
    expect(progress.at(-1)).toMatchObject({ done: 6, total: 6, failed: 1 });
    expect(predictor.disposed).toBe(1);
    const bad = result.results.filter((r) => !r.ok);
    expect(bad).toEqual([{ file: path.join('faces', 'broken.jpg'), ok: false, error: { reason: expect.stringMatching(/corrupt|unsupported-format/), message: expect.stringMatching(/broken\.jpg/) } }]);
    for (const r of result.results.filter((x): x is Ok => x.ok)) {
      const image = await decodeImage(path.join(tmp, r.file), { channels: 3 });
      expect([r.width, r.height]).toEqual([image.width, image.height]);
      expect(r.faces).toEqual([{ box: { x: 0, y: 0, width: image.width, height: image.height }, score: null, expectedAge: image.data[0], top: [{ label: String(image.data[0]), probability: 1 }], group: null, label: `${image.data[0]} y (${image.data[0]} 100%)` }]);
      const rel = path.relative('faces', r.file);
      expect(r.annotated).toBe(path.join(annotate, annotatedName(rel).name));
      expect(await fs.readFile(r.annotated as string, 'utf8')).toBe(`${rel.endsWith('.webp') ? 'png' : 'jpeg'}:${r.faces[0].label}`);
    }
    // only the copies (no temporary files), and none for the bad file
    const written = (await fs.readdir(annotate, { recursive: true })).map(String).filter((f) => path.extname(f));
    expect(written.sort()).toEqual(files.filter((f) => f !== 'broken.jpg').map((f) => annotatedName(f).name).sort());
    expect(await Promise.all(files.map((f) => sha(path.join(data, f))))).toEqual(before);
  });

  it('a missing path is a failed row (reported first) and the other photos are still predicted', async () => {
    const result = await predictPhotos({ paths: ['nope.jpg', path.join(data, 'red.webp')], cwd: tmp, loadPredictor: async () => recordingPredictor(), detect: false });
    expect(result.results.map((r) => (r.ok ? 'ok' : `${r.file} ${r.error.reason} ${r.error.message}`))).toEqual([expect.stringMatching(/^nope\.jpg not-found nope\.jpg: .*ENOENT/), 'ok']);
    expect(result).toMatchObject({ images: 2, failed: 1, faces: 1 });
    // a photo over maxPixels fails by its header, before decoding
    const small = await predictPhotos({ paths: [path.join(data, 'red.webp')], loadPredictor: async () => recordingPredictor(), detect: false, maxPixels: 199 });
    expect(small.results).toEqual([expect.objectContaining({ ok: false, error: expect.objectContaining({ reason: 'too-large' }) })]);
  });

  it('refuses before loading the model: annotated copies over the inputs, or no image at all', async () => {
    const loadPredictor = jest.fn(async () => recordingPredictor());
    await expect(predictPhotos({ paths: [data], loadPredictor, annotate: { dir: data, draw: drawLabels } })).rejects.toMatchObject({ code: 'annotation-clash', message: expect.stringMatching(/would overwrite the input/) });
    const empty = path.join(tmp, 'empty');
    await fs.mkdir(empty, { recursive: true });
    const error = await predictPhotos({ paths: [empty], loadPredictor }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PhotoInputError);
    expect(error).toMatchObject({ code: 'no-images', message: `no image files in ${empty}` });
    expect(loadPredictor).not.toHaveBeenCalled();
  });

  it('a model that cannot be loaded is a PhotoModelLoadError with the loader message', async () => {
    const error = await predictPhotos({ paths: [data], detect: false, loadPredictor: () => Promise.reject(new Error('bundle/model.onnx: missing')) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PhotoModelLoadError);
    expect((error as Error).message).toBe('bundle/model.onnx: missing');
  });

  it('a copy that cannot be drawn fails its photo only; an abort stops the run and frees the model', async () => {
    const draw: DrawAnnotations = async (image, faces, options) => {
      if (image.width === 20) throw new Error('no canvas today');
      return drawLabels(image, faces, options);
    };
    const result = await predictPhotos({ paths: [data], detect: false, loadPredictor: async () => recordingPredictor(), annotate: { dir: path.join(tmp, 'drawn'), draw } });
    const red = result.results.find((r) => r.file.endsWith('red.webp'));
    expect(red).toMatchObject({ ok: false, error: { reason: 'failed', message: expect.stringMatching(/writing the annotated copy .*red\.webp\.png: no canvas today/) } });
    expect(result.failed).toBe(2); // broken.jpg and red.webp

    const controller = new AbortController();
    const predictor = recordingPredictor();
    const run = predictPhotos({ paths: [data], detect: false, loadPredictor: async () => predictor, signal: controller.signal, onResult: () => controller.abort(new Error('stop')) });
    await expect(run).rejects.toThrow('stop');
    expect(predictor.seen).toHaveLength(1);
    expect(predictor.disposed).toBe(1);
  });
});
