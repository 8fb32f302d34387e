import type { PixelImage } from '@agekit/dataset';
import { alignFace, alignmentTransform, applyTransform, composeTransforms, fitSimilarity, invertTransform, UTKFACE_TEMPLATE, warpSimilarity, type SimilarityTransform } from './align';
import type { DetectedFace, Point } from './types';
import { interiorMad } from './pixels.testing';

/** Smooth RGB pattern (bilinear resampling of it is nearly exact). */
function pattern(size: number): PixelImage {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      data[o] = Math.round(127 + 100 * Math.sin(x / 9) * Math.cos(y / 13));
      data[o + 1] = Math.round((x / size) * 255);
      data[o + 2] = Math.round((y / size) * 255);
    }
  }
  return { width: size, height: size, channels: 3, data };
}

function rotation(degrees: number, scale: number, tx: number, ty: number): SimilarityTransform {
  const r = (degrees * Math.PI) / 180;
  return { a: scale * Math.cos(r), b: scale * Math.sin(r), tx, ty };
}

function faceAt(t: SimilarityTransform): DetectedFace {
  const p = (q: Point): Point => applyTransform(t, q);
  const { leftEye, rightEye, mouth } = UTKFACE_TEMPLATE;
  return { box: { x: 0, y: 0, width: 1, height: 1 }, score: 1, landmarks: { leftEye: p(leftEye), rightEye: p(rightEye), nose: p([100, 110]), mouth: p(mouth) } };
}

describe('similarity transforms', () => {
  it('fitSimilarity recovers a known rotation + scale + shift from three points', () => {
    const t = rotation(-23, 0.7, 31, -12);
    const from: Point[] = [[10, 20], [80, 25], [40, 90]];
    const fit = fitSimilarity(from, from.map((p) => applyTransform(t, p)));
    expect(fit.a).toBeCloseTo(t.a, 9);
    expect(fit.b).toBeCloseTo(t.b, 9);
    expect(fit.tx).toBeCloseTo(t.tx, 9);
    expect(fit.ty).toBeCloseTo(t.ty, 9);
    const id = composeTransforms(invertTransform(t), t);
    expect(id.a).toBeCloseTo(1, 12);
    expect(id.b).toBeCloseTo(0, 12);
    expect(id.tx).toBeCloseTo(0, 9);
    expect(id.ty).toBeCloseTo(0, 9);
  });

  it('rejects coincident landmarks', () => {
    expect(() => fitSimilarity([[5, 5], [5, 5]], [[1, 2], [3, 4]])).toThrow(/coincide/);
  });
});

describe('alignFace', () => {
  it('undoes a known rotation, scale and shift (interior mean abs diff < 2 grey levels; unaligned > 30)', () => {
    const crop = pattern(200);
    const t = rotation(15, 1.4, 150, 60); // crop -> canvas
    const canvas = warpSimilarity(crop, t, 500, 450);
    const face = faceAt(t);
    const back = alignFace(canvas, face);
    expect(back.width).toBe(200);
    expect(back.height).toBe(200);
    expect(back.channels).toBe(3);
    expect(interiorMad(back, crop, 10)).toBeLessThan(2);
    // the yardstick: the same region taken without undoing the rotation is far off
    const wrong = warpSimilarity(canvas, invertTransform(rotation(0, 1.4, 150, 60)), 200, 200);
    expect(interiorMad(wrong, crop, 10)).toBeGreaterThan(30);
    // the alignment transform maps the landmarks exactly onto the template
    const m = alignmentTransform(face);
    const e = applyTransform(m, face.landmarks.leftEye);
    expect(e[0]).toBeCloseTo(UTKFACE_TEMPLATE.leftEye[0], 6);
    expect(e[1]).toBeCloseTo(UTKFACE_TEMPLATE.leftEye[1], 6);
  });

  it('scales the template with the size option', () => {
    const crop = pattern(200);
    const small = alignFace(crop, faceAt({ a: 1, b: 0, tx: 0, ty: 0 }), { size: 100 });
    expect(small.width).toBe(100);
    const expected = warpSimilarity(crop, { a: 0.5, b: 0, tx: 0, ty: 0 }, 100, 100);
    expect(interiorMad(small, expected, 0)).toBe(0);
  });

  it('replicates the border outside the photo and returns RGB from grey or RGBA input', () => {
    const grey: PixelImage = { width: 20, height: 10, channels: 1, data: new Uint8Array(200).fill(77) };
    const out = alignFace(grey, faceAt(rotation(30, 0.1, 3, 2)), { size: 40 });
    expect(out.channels).toBe(3);
    expect(out.data.every((v) => v === 77)).toBe(true);
    const rgba: PixelImage = { width: 4, height: 4, channels: 4, data: new Uint8Array(64).map((_, i) => (i % 4 === 3 ? 0 : 10 + (i % 4))) };
    const out2 = alignFace(rgba, faceAt(rotation(0, 0.02, 0, 0)), { size: 16 });
    expect(Array.from(out2.data.subarray(0, 3))).toEqual([10, 11, 12]);
  });

  it('validates its inputs', () => {
    const crop = pattern(20);
    const face = faceAt({ a: 0.1, b: 0, tx: 0, ty: 0 });
    expect(() => alignFace(crop, face, { size: 0 })).toThrow(/size must be an integer/);
    expect(() => alignFace(crop, face, { size: 12.5 })).toThrow(/size must be an integer/);
    expect(() => alignFace({ ...crop, data: crop.data.subarray(1) }, face)).toThrow(/needs 1200/);
    expect(() => alignFace(crop, { ...face, landmarks: { ...face.landmarks, mouth: [NaN, 1] } })).toThrow(/mouth/);
  });
});
