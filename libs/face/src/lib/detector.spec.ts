import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImage, type PixelImage } from '@agekit/dataset';
import { initBackend } from '@agekit/runtime';
import { alignFace, alignmentTransform, applyTransform, composeTransforms, invertTransform, UTKFACE_TEMPLATE, warpSimilarity, type SimilarityTransform } from './align';
import { FaceModelError, loadFaceDetector, type FaceDetector } from './detector';
import type { DetectedFace, FaceBox, Point } from './types';
import { interiorMad } from './pixels.testing';

// face-api's own demo photo (1920x1280, three people), read from the installed package; never copied into the repo
const SAMPLE1 = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');

function inside(p: Point, b: FaceBox): boolean {
  return p[0] >= b.x && p[0] <= b.x + b.width && p[1] >= b.y && p[1] <= b.y + b.height;
}
function overlap(a: FaceBox, b: FaceBox): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
function rotation(degrees: number, scale: number, tx: number, ty: number): SimilarityTransform {
  const r = (degrees * Math.PI) / 180;
  return { a: scale * Math.cos(r), b: scale * Math.sin(r), tx, ty };
}
/** Largest displacement of the crop's corners and centre under `t` (a transform that should be the identity). */
function maxDisplacement(t: SimilarityTransform, size: number): number {
  const pts: Point[] = [[0, 0], [size, 0], [0, size], [size, size], [size / 2, size / 2]];
  return Math.max(...pts.map((p) => Math.hypot(applyTransform(t, p)[0] - p[0], applyTransform(t, p)[1] - p[1])));
}
describe('face detector (face-api SSD MobileNet v1 + 68 landmarks, wasm)', () => {
  let detector: FaceDetector;
  let photo: PixelImage;
  let faces: DetectedFace[];

  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    detector = await loadFaceDetector();
    photo = await decodeImage(SAMPLE1, { channels: 3 });
    faces = await detector.detect(photo);
  }, 60_000);
  afterAll(() => detector?.dispose());

  it('finds the three faces of sample1.jpg, left to right, disjoint, with landmarks inside their boxes', () => {
    expect(photo.width).toBe(1920);
    expect(faces).toHaveLength(3);
    for (let i = 0; i < faces.length; i++) {
      const f = faces[i];
      expect(f.score).toBeGreaterThanOrEqual(0.5);
      expect(f.score).toBeLessThanOrEqual(1);
      expect(f.box.width).toBeGreaterThan(50);
      if (i > 0) expect(f.box.x).toBeGreaterThanOrEqual(faces[i - 1].box.x);
      for (let j = i + 1; j < faces.length; j++) expect(overlap(f.box, faces[j].box)).toBe(false);
      for (const p of Object.values(f.landmarks)) expect(inside(p, f.box)).toBe(true);
      const { leftEye, rightEye, nose, mouth } = f.landmarks;
      expect(leftEye[0]).toBeLessThan(rightEye[0]);
      expect(Math.max(leftEye[1], rightEye[1])).toBeLessThan(nose[1]);
      expect(nose[1]).toBeLessThan(mouth[1]);
    }
  });

  it('finds no face in a blank image', async () => {
    const blank: PixelImage = { width: 640, height: 480, channels: 3, data: new Uint8Array(640 * 480 * 3).fill(128) };
    expect(await detector.detect(blank)).toEqual([]);
  });

  it('gives the same faces on a grey-scale photo shrunk by half, and frees every tensor it made', async () => {
    const w = photo.width / 2, h = photo.height / 2;
    const grey = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) grey[y * w + x] = photo.data[(2 * y * photo.width + 2 * x) * 3 + 1];
    const before = tf.memory().numTensors;
    const small = await detector.detect({ width: w, height: h, channels: 1, data: grey });
    expect(tf.memory().numTensors).toBe(before);
    expect(small).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      const a = small[i].landmarks.leftEye, b = faces[i].landmarks.leftEye;
      expect(Math.hypot(2 * a[0] - b[0], 2 * a[1] - b[1])).toBeLessThan(10);
    }
  });

  it('aligns the same face again after it was rotated 15 degrees, scaled and shifted', async () => {
    // A = the aligned crop of the first face; the canvas shows the photo moved by a known T (crop -> canvas coordinates)
    const face = faces[0];
    const crop = alignFace(photo, face);
    const toCrop = alignmentTransform(face);
    const t = rotation(15, 1.6, 170, 90);
    const canvas = warpSimilarity(photo, composeTransforms(t, toCrop), 560, 560);
    const again = await detector.detect(canvas);
    expect(again).toHaveLength(1);
    const aligned = alignFace(canvas, again[0]);
    // geometry: canvas-detected eyes/mouth mapped back into crop A sit on the template (within 4 px),
    // and crop B's transform composed with T is the identity on crop A (corners move < 8 px; a 15 degree
    // error would move them ~37 px)
    const back = invertTransform(t);
    for (const name of ['leftEye', 'rightEye', 'mouth'] as const) {
      const p = applyTransform(back, again[0].landmarks[name]);
      const q = applyTransform(toCrop, face.landmarks[name]);
      expect(Math.hypot(p[0] - q[0], p[1] - q[1])).toBeLessThan(4);
    }
    const eye = applyTransform(back, again[0].landmarks.leftEye);
    expect(Math.hypot(eye[0] - UTKFACE_TEMPLATE.leftEye[0], eye[1] - UTKFACE_TEMPLATE.leftEye[1])).toBeLessThan(8);
    expect(maxDisplacement(composeTransforms(alignmentTransform(again[0]), t), 200)).toBeLessThan(8);
    // pixels: mean abs diff of B against A over the inner 160x160 stays small next to the unrotated yardstick
    const mad = interiorMad(aligned, crop, 20);
    const yardstick = interiorMad(warpSimilarity(canvas, invertTransform(rotation(0, 1.6, 170, 90)), 200, 200), crop, 20);
    process.stdout.write(`round trip: mean abs diff ${mad.toFixed(2)} (unrotated yardstick ${yardstick.toFixed(2)})\n`);
    expect(mad).toBeLessThan(12);
    expect(yardstick).toBeGreaterThan(3 * mad);
  }, 30_000);

  it('validates options and inputs', async () => {
    await expect(loadFaceDetector({ minScore: 0 })).rejects.toThrow(/minScore/);
    await expect(loadFaceDetector({ minScore: 1.5 })).rejects.toThrow(/minScore/);
    await expect(loadFaceDetector({ maxFaces: 0 })).rejects.toThrow(/maxFaces/);
    await expect(loadFaceDetector({ maxFaces: 2.5 })).rejects.toThrow(/maxFaces/);
    const missing = path.join(__dirname, 'no-such-model-dir');
    const error = await loadFaceDetector({ modelDir: missing }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FaceModelError);
    expect((error as FaceModelError).file).toBe(path.join(missing, 'ssd_mobilenetv1_model-weights_manifest.json'));
    await expect(detector.detect({ width: 10, height: 10, channels: 3, data: new Uint8Array(10) })).rejects.toThrow(/needs 300/);
  });

  it('refuses to detect after dispose', async () => {
    const own = await loadFaceDetector({ maxFaces: 1 });
    own.dispose();
    await expect(own.detect(photo)).rejects.toThrow(/disposed/);
  });
});
