import type { PixelImage } from '@agekit/dataset';
import type { DetectedFace, Point } from './types';

/**
 * Where the eyes and the mouth sit in a UTKFace crop (200x200, dlib-aligned), in crop pixels.
 * Coordinates are continuous with pixel i covering [i, i+1) (so the centre of the crop is [100, 100]).
 *
 * Measured, not guessed: the mean landmark positions our own detector (face-api SSD MobileNet v1 + 68-point
 * landmarks, `loadFaceDetector()` defaults) finds on UTKFace crops; `leftEye`/`rightEye` = mean of iBUG points
 * 36-41 / 42-47, `mouth` = mean of the outer lip points 48-59 (see `landmarksFrom68` in detector.ts). Command:
 *   npx tsx tools/bench/face/template.ts --data ../shared/data/utkface --count 200
 * -> 200 crops evenly spaced in the sorted file list, each padded by 100 px of grey (SSD misses frame-filling faces);
 *    159 had a face (41 did not). Standard deviation across crops: eyes 2.6-2.8 px, mouth 1.6 / 2.5 px (x / y).
 *    (An unpadded run on 400 crops found only 88 faces, with means within 1 px of these.)
 */
export const UTKFACE_TEMPLATE: { size: number; leftEye: Point; rightEye: Point; mouth: Point } = {
  size: 200,
  leftEye: [58.6, 57.1],
  rightEye: [135.2, 57.5],
  mouth: [97.2, 140.9],
};

export interface AlignOptions {
  /** Output side in pixels (the template is scaled to it). Default 200, the UTKFace crop size. */
  size?: number;
}

/** x' = a*x - b*y + tx, y' = b*x + a*y + ty (rotation + uniform scale + shift). */
export interface SimilarityTransform {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

export function applyTransform(t: SimilarityTransform, p: Point): Point {
  return [t.a * p[0] - t.b * p[1] + t.tx, t.b * p[0] + t.a * p[1] + t.ty];
}

/** `outer` after `inner`: p -> outer(inner(p)). */
export function composeTransforms(outer: SimilarityTransform, inner: SimilarityTransform): SimilarityTransform {
  return {
    a: outer.a * inner.a - outer.b * inner.b,
    b: outer.a * inner.b + outer.b * inner.a,
    tx: outer.a * inner.tx - outer.b * inner.ty + outer.tx,
    ty: outer.b * inner.tx + outer.a * inner.ty + outer.ty,
  };
}

export function invertTransform(t: SimilarityTransform): SimilarityTransform {
  const d = t.a * t.a + t.b * t.b;
  if (!(d > 0)) throw new RangeError('the transform is degenerate (zero scale)');
  const a = t.a / d;
  const b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/**
 * Least-squares similarity transform (no reflection) mapping `from[i]` onto `to[i]` (closed form: centre both
 * point sets, then solve the 2x2 rotation-scale part).
 */
export function fitSimilarity(from: readonly Point[], to: readonly Point[]): SimilarityTransform {
  if (from.length !== to.length || from.length < 2) throw new RangeError('fitSimilarity needs two equally long lists of at least 2 points');
  const n = from.length;
  let fx = 0, fy = 0, gx = 0, gy = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i][0] / n;
    fy += from[i][1] / n;
    gx += to[i][0] / n;
    gy += to[i][1] / n;
  }
  let dot = 0, cross = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    const sx = from[i][0] - fx, sy = from[i][1] - fy;
    const dx = to[i][0] - gx, dy = to[i][1] - gy;
    dot += sx * dx + sy * dy;
    cross += sx * dy - sy * dx;
    norm += sx * sx + sy * sy;
  }
  if (!(norm > 1e-9)) throw new RangeError('the landmarks coincide; no alignment is possible');
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: gx - (a * fx - b * fy), ty: gy - (b * fx + a * fy) };
}

function checkSize(size: unknown): number {
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 8 || size > 4096) {
    throw new RangeError(`align size must be an integer from 8 to 4096, got ${String(size)}`);
  }
  return size;
}

/** The transform taking input-image coordinates to aligned-crop coordinates for `face` (template scaled to `size`). */
export function alignmentTransform(face: DetectedFace, options: AlignOptions = {}): SimilarityTransform {
  const size = checkSize(options.size ?? UTKFACE_TEMPLATE.size);
  const k = size / UTKFACE_TEMPLATE.size;
  const scaled = (p: Point): Point => [p[0] * k, p[1] * k];
  const { leftEye, rightEye, mouth } = face.landmarks;
  for (const [name, p] of Object.entries({ leftEye, rightEye, mouth })) {
    if (!Array.isArray(p) || p.length !== 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) {
      throw new TypeError(`face.landmarks.${name} must be a finite [x, y] point`);
    }
  }
  return fitSimilarity(
    [leftEye, rightEye, mouth],
    [scaled(UTKFACE_TEMPLATE.leftEye), scaled(UTKFACE_TEMPLATE.rightEye), scaled(UTKFACE_TEMPLATE.mouth)],
  );
}

export function checkPixelImage(image: PixelImage, what = 'image'): void {
  if (!image || typeof image !== 'object') throw new TypeError(`${what} must be a PixelImage {width, height, channels, data}`);
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${what} has invalid dimensions ${String(width)}x${String(height)}`);
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) throw new RangeError(`${what} has ${String(channels)} channels; expected 1, 3 or 4`);
  if (!(data instanceof Uint8Array) || data.length !== width * height * channels) {
    throw new RangeError(`${what} data holds ${data?.length ?? 0} bytes; ${width}x${height}x${channels} needs ${width * height * channels}`);
  }
}

/**
 * Warp `image` by the similarity transform `t` (input -> output coordinates) into a `width` x `height` RGB image:
 * bilinear sampling, replicate border (pixels outside the input take the nearest edge pixel).
 */
export function warpSimilarity(image: PixelImage, t: SimilarityTransform, width: number, height: number): PixelImage {
  checkPixelImage(image);
  const inv = invertTransform(t);
  const { width: w, height: h, channels: c, data: src } = image;
  const out = new Uint8Array(width * height * 3);
  const rgbAt = (x: number, y: number, k: number): number => src[(y * w + x) * c + (c === 1 ? 0 : k)];
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      // pixel centres at i + 0.5 in both images
      const sx = inv.a * (u + 0.5) - inv.b * (v + 0.5) + inv.tx - 0.5;
      const sy = inv.b * (u + 0.5) + inv.a * (v + 0.5) + inv.ty - 0.5;
      const fx = Math.min(Math.max(sx, 0), w - 1);
      const fy = Math.min(Math.max(sy, 0), h - 1);
      const x0 = Math.floor(fx), y0 = Math.floor(fy);
      const x1 = Math.min(x0 + 1, w - 1), y1 = Math.min(y0 + 1, h - 1);
      const ax = fx - x0, ay = fy - y0;
      const o = (v * width + u) * 3;
      for (let k = 0; k < 3; k++) {
        const top = rgbAt(x0, y0, k) * (1 - ax) + rgbAt(x1, y0, k) * ax;
        const bottom = rgbAt(x0, y1, k) * (1 - ax) + rgbAt(x1, y1, k) * ax;
        out[o + k] = Math.round(top * (1 - ay) + bottom * ay);
      }
    }
  }
  return { width, height, channels: 3, data: out };
}

/**
 * Crop and align one detected face the way UTKFace crops are: a similarity transform (rotation + uniform scale +
 * shift, least squares over both eyes and the mouth) maps the face's landmarks onto `UTKFACE_TEMPLATE` scaled to
 * `size`; bilinear sampling, replicate border outside the photo. Returns an RGB `size` x `size` image.
 */
export function alignFace(image: PixelImage, face: DetectedFace, options: AlignOptions = {}): PixelImage {
  checkPixelImage(image);
  if (!face || typeof face !== 'object' || !face.landmarks) throw new TypeError('alignFace needs a DetectedFace with landmarks');
  const size = checkSize(options.size ?? UTKFACE_TEMPLATE.size);
  return warpSimilarity(image, alignmentTransform(face, { size }), size, size);
}
