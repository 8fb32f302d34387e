/**
 * Deterministic synthetic faces whose look depends on age, for tests and the demo dataset.
 *
 * Age cues (all continuous in age, so a model can learn a regression from them):
 *  - head shape: children are rounder with eyes lower in the face and larger; adults longer;
 *  - hair: grey share grows from age 30 to fully white near 80; the hairline recedes after 40 for some;
 *  - wrinkles: forehead lines, crow's feet and nasolabial lines darken linearly from 18 to 68 (at least 1 px wide);
 *  - skin: slight sagging of the jaw line (wider lower face) and lower contrast of lips with age.
 * Identity cues that do NOT depend on age (skin tone, hair base colour, background, pose jitter)
 * vary at random, so the age signal is not a trivial colour shortcut.
 *
 * Quality defects (recorded per image): blur, dark, bright, noise, tiny, low texture (flat).
 */
import type { PixelImage, Rng } from '@agekit/dataset';

export type Defect = 'none' | 'blurry' | 'dark' | 'bright' | 'noisy' | 'tiny' | 'flat';

export interface FaceSpec {
  age: number;
  size: number;
  defect: Defect;
}

const clamp = (x: number, lo = 0, hi = 1): number => (x < lo ? lo : x > hi ? hi : x);
const smooth = (edge0: number, edge1: number, x: number): number => {
  const t = clamp((x - edge0) / (edge1 - edge0));
  return t * t * (3 - 2 * t);
};

class Canvas {
  readonly data: Float32Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Float32Array(width * height * 3);
  }
  /** Blend colour c into pixel (x, y) with coverage a in [0, 1]. */
  blend(x: number, y: number, c: readonly number[], a: number): void {
    if (a <= 0 || x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    const d = this.data;
    d[i] += (c[0] - d[i]) * a;
    d[i + 1] += (c[1] - d[i + 1]) * a;
    d[i + 2] += (c[2] - d[i + 2]) * a;
  }
  /** Filled, anti-aliased ellipse (centre, radii, rotation in radians). */
  ellipse(cx: number, cy: number, rx: number, ry: number, c: readonly number[], alpha = 1, rot = 0): void {
    const r = Math.max(rx, ry) + 2;
    const cos = Math.cos(rot);
    const sin = Math.sin(rot);
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(this.height - 1, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(this.width - 1, Math.ceil(cx + r)); x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        const u = (dx * cos + dy * sin) / rx;
        const v = (-dx * sin + dy * cos) / ry;
        const dist = (Math.sqrt(u * u + v * v) - 1) * Math.min(rx, ry);
        this.blend(x, y, c, alpha * clamp(0.5 - dist));
      }
    }
  }
  /** Anti-aliased quadratic curve stroke from p0 via control p1 to p2. */
  curve(p0: number[], p1: number[], p2: number[], width: number, c: readonly number[], alpha: number): void {
    const steps = Math.ceil(Math.hypot(p2[0] - p0[0], p2[1] - p0[1]) * 2) + 2;
    const pts: number[][] = [];
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      const a = (1 - t) * (1 - t);
      const b = 2 * (1 - t) * t;
      const d = t * t;
      pts.push([a * p0[0] + b * p1[0] + d * p2[0], a * p0[1] + b * p1[1] + d * p2[1]]);
    }
    const minX = Math.floor(Math.min(...pts.map((p) => p[0])) - width - 1);
    const maxX = Math.ceil(Math.max(...pts.map((p) => p[0])) + width + 1);
    const minY = Math.floor(Math.min(...pts.map((p) => p[1])) - width - 1);
    const maxY = Math.ceil(Math.max(...pts.map((p) => p[1])) + width + 1);
    for (let y = Math.max(0, minY); y <= Math.min(this.height - 1, maxY); y++) {
      for (let x = Math.max(0, minX); x <= Math.min(this.width - 1, maxX); x++) {
        let best = Infinity;
        for (const p of pts) {
          const dd = (x + 0.5 - p[0]) ** 2 + (y + 0.5 - p[1]) ** 2;
          if (dd < best) best = dd;
        }
        this.blend(x, y, c, alpha * clamp(width / 2 + 0.5 - Math.sqrt(best)));
      }
    }
  }
}

const HAIR_BASES = [
  [30, 22, 18],
  [70, 45, 25],
  [120, 85, 50],
  [190, 160, 100],
  [15, 12, 12],
];
const SKIN_TONES = [
  [235, 200, 175],
  [220, 180, 150],
  [195, 150, 115],
  [160, 115, 85],
  [120, 85, 60],
  [90, 60, 45],
];

const mix = (a: readonly number[], b: readonly number[], t: number): number[] => a.map((v, i) => v + (b[i] - v) * t);

export interface RenderOptions {
  /** Draw the wrinkle layer (default true); off only to measure what it adds. */
  wrinkles?: boolean;
}

/** Render one face at `size` x `size` (before any quality defect). */
export function renderFace(age: number, rng: Rng, size: number, options: RenderOptions = {}): Float32Array {
  const S = size;
  const cv = new Canvas(S, S);
  // background: vertical gradient between two random muted colours
  // background: a gradient in a random direction between two random muted colours
  const bg0 = [rng.uniform(30, 230), rng.uniform(30, 230), rng.uniform(30, 230)];
  const bg1 = mix(bg0, [rng.uniform(30, 230), rng.uniform(30, 230), rng.uniform(30, 230)], rng.uniform(0.4, 1));
  const bgAngle = rng.uniform(0, 2 * Math.PI);
  const gx = Math.cos(bgAngle);
  const gy = Math.sin(bgAngle);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) cv.blend(x, y, mix(bg0, bg1, 0.5 + 0.5 * ((x / S - 0.5) * gx + (y / S - 0.5) * gy) * 1.4), 1);
  }
  const youth = clamp((18 - age) / 17); // 1 for babies, 0 for adults
  const old = clamp((age - 30) / 50); // 0 until 30, 1 at 80
  const grey = smooth(30, 80, age + rng.uniform(-5, 5));
  const wrinkle = options.wrinkles === false ? (rng.next(), 0) : clamp((age - 18 + rng.uniform(-6, 6) * 0.5) / 50);
  const line = Math.max(1, S * 0.012); // wrinkle stroke: at least a pixel, so small inputs keep the cue

  const skin = mix(SKIN_TONES[rng.int(SKIN_TONES.length)], [128, 128, 128], rng.uniform(-0.05, 0.1));
  const hairBase = HAIR_BASES[rng.int(HAIR_BASES.length)];
  const hair = mix(hairBase, [225, 225, 222], grey);

  // pose and framing vary per identity (as crops of real photos do), not with age
  const scale = rng.uniform(0.85, 1.1);
  const cx = S / 2 + rng.uniform(-0.07, 0.07) * S;
  const cy = S * (0.54 + rng.uniform(-0.05, 0.05));
  const faceW = S * (0.3 + 0.03 * youth + 0.015 * old) * scale * rng.uniform(0.93, 1.07);
  const faceH = S * (0.38 - 0.04 * youth) * scale * rng.uniform(0.94, 1.06);
  const tilt = rng.uniform(-0.15, 0.15);

  // hair behind the head; recedes with age for about half the faces
  const recede = rng.next() < 0.5 ? smooth(40, 75, age) : 0;
  cv.ellipse(cx, cy - faceH * (0.18 + 0.12 * recede), faceW * 1.12, faceH * (0.95 - 0.1 * recede), hair, 1, tilt);
  // neck and face; jaw widens slightly with age (sagging)
  cv.ellipse(cx, cy + faceH * 0.95, faceW * 0.5, faceH * 0.5, mix(skin, [0, 0, 0], 0.12), 1);
  cv.ellipse(cx, cy, faceW, faceH, skin, 1, tilt);
  cv.ellipse(cx, cy + faceH * 0.35, faceW * (0.85 + 0.1 * old), faceH * 0.6, skin, 1, tilt);
  // fringe covers the forehead top unless receding
  cv.ellipse(cx, cy - faceH * (0.88 + 0.25 * recede), faceW * 0.95, faceH * 0.28, hair, 1 - 0.8 * recede, tilt);

  // eyes: lower and larger in children
  const eyeY = cy - faceH * (0.12 - 0.18 * youth);
  const eyeDx = faceW * 0.42;
  const eyeR = S * (0.032 + 0.018 * youth);
  const sclera = [240, 240, 235];
  const iris = mix([50, 35, 25], [60, 90, 120], rng.next());
  for (const side of [-1, 1]) {
    const ex = cx + side * eyeDx;
    cv.ellipse(ex, eyeY, eyeR * 1.6, eyeR * (0.9 - 0.2 * old), sclera, 1);
    cv.ellipse(ex, eyeY, eyeR * 0.75, eyeR * 0.75, iris, 1);
    cv.ellipse(ex, eyeY, eyeR * 0.35, eyeR * 0.35, [10, 10, 10], 1);
    // eyebrow, greying with hair
    cv.curve([ex - eyeR * 1.8, eyeY - eyeR * 1.6], [ex, eyeY - eyeR * 2.3], [ex + eyeR * 1.8, eyeY - eyeR * 1.6], S * 0.012, hair, 0.9);
    // crow's feet
    for (let k = -1; k <= 1; k++) {
      const x0 = ex + side * eyeR * 1.8;
      cv.curve([x0, eyeY + k * eyeR * 0.5], [x0 + side * eyeR * 0.6, eyeY + k * eyeR * 0.7], [x0 + side * eyeR * 1.3, eyeY + k * eyeR * 1.0], line, mix(skin, [40, 25, 20], 0.7), wrinkle);
    }
    // bags under the eyes
    cv.curve([ex - eyeR * 1.3, eyeY + eyeR * 1.3], [ex, eyeY + eyeR * 2.0], [ex + eyeR * 1.3, eyeY + eyeR * 1.3], S * 0.007, mix(skin, [60, 40, 40], 0.5), 0.8 * old);
  }
  // forehead lines
  const foreY = eyeY - faceH * 0.32;
  const lines = 1 + Math.round(3 * wrinkle);
  for (let k = 0; k < lines; k++) {
    const y = foreY - k * S * 0.025;
    cv.curve([cx - faceW * 0.5, y + S * 0.006], [cx, y - S * 0.012], [cx + faceW * 0.5, y + S * 0.006], line, mix(skin, [50, 30, 25], 0.7), wrinkle);
  }
  // nose
  cv.curve([cx, eyeY + eyeR], [cx - faceW * 0.08, cy + faceH * 0.18], [cx + faceW * 0.05, cy + faceH * 0.25], S * 0.01, mix(skin, [0, 0, 0], 0.3), 0.7);
  // nasolabial folds
  for (const side of [-1, 1]) {
    cv.curve([cx + side * faceW * 0.2, cy + faceH * 0.22], [cx + side * faceW * 0.36, cy + faceH * 0.36], [cx + side * faceW * 0.32, cy + faceH * 0.52], line, mix(skin, [50, 30, 25], 0.65), wrinkle);
  }
  // mouth: lips lose contrast with age
  const lip = mix([180, 70, 80], skin, 0.2 + 0.5 * old);
  const mouthY = cy + faceH * (0.45 - 0.05 * youth);
  cv.curve([cx - faceW * 0.3, mouthY], [cx, mouthY + faceH * 0.08], [cx + faceW * 0.3, mouthY], S * 0.02, lip, 1);
  // skin texture: fine mottling that grows with age (age spots)
  const spots = Math.round(12 * old * old);
  for (let k = 0; k < spots; k++) {
    const a = rng.uniform(0, 2 * Math.PI);
    const r = Math.sqrt(rng.next()) * 0.8;
    cv.ellipse(cx + Math.cos(a) * r * faceW, cy + Math.sin(a) * r * faceH, S * 0.01, S * 0.008, mix(skin, [90, 60, 40], 0.4), 0.6);
  }
  // light from a random side: a smooth brightness ramp across the picture
  const lightAngle = rng.uniform(0, 2 * Math.PI);
  const lightStrength = rng.uniform(0.1, 0.35);
  const lx = Math.cos(lightAngle);
  const ly = Math.sin(lightAngle);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const k = 1 + lightStrength * ((x / S - 0.5) * lx + (y / S - 0.5) * ly) * 2;
      const i = (y * S + x) * 3;
      cv.data[i] *= k;
      cv.data[i + 1] *= k;
      cv.data[i + 2] *= k;
    }
  return cv.data;
}

function boxBlur(src: Float32Array, w: number, h: number, radius: number, passes: number): Float32Array {
  let a = src;
  for (let p = 0; p < passes; p++) {
    const tmp = new Float32Array(a.length);
    const out = new Float32Array(a.length);
    const n = 2 * radius + 1;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (let k = -radius; k <= radius; k++) s += a[(y * w + Math.min(w - 1, Math.max(0, x + k))) * 3 + c];
          tmp[(y * w + x) * 3 + c] = s / n;
        }
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (let k = -radius; k <= radius; k++) s += tmp[(Math.min(h - 1, Math.max(0, y + k)) * w + x) * 3 + c];
          out[(y * w + x) * 3 + c] = s / n;
        }
    a = out;
  }
  return a;
}

function downscale(src: Float32Array, w: number, h: number, nw: number, nh: number): Float32Array {
  // area average
  const out = new Float32Array(nw * nh * 3);
  for (let y = 0; y < nh; y++) {
    const y0 = Math.floor((y * h) / nh);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * h) / nh));
    for (let x = 0; x < nw; x++) {
      const x0 = Math.floor((x * w) / nw);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * w) / nw));
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) s += src[(yy * w + xx) * 3 + c];
        out[(y * nw + x) * 3 + c] = s / ((y1 - y0) * (x1 - x0));
      }
    }
  }
  return out;
}

/** Render a face with its quality defect applied, as 8-bit RGB pixels. */
export function renderSample(spec: FaceSpec, rng: Rng): PixelImage {
  let w = spec.size;
  let h = spec.size;
  let px = renderFace(spec.age, rng, spec.size);
  // faint camera noise everywhere, so clean images are not unnaturally flat
  for (let i = 0; i < px.length; i++) px[i] += rng.normal() * 2.5;
  switch (spec.defect) {
    case 'blurry':
      px = boxBlur(px, w, h, Math.max(2, Math.round(spec.size / 40)), 3);
      break;
    case 'dark': {
      const k = rng.uniform(0.12, 0.25);
      for (let i = 0; i < px.length; i++) px[i] *= k;
      break;
    }
    case 'bright': {
      const k = rng.uniform(0.15, 0.3);
      for (let i = 0; i < px.length; i++) px[i] = 255 - (255 - px[i]) * k;
      break;
    }
    case 'noisy':
      for (let i = 0; i < px.length; i++) px[i] += rng.normal() * rng.uniform(60, 90);
      break;
    case 'flat': {
      const mean = px.reduce((a, b) => a + b, 0) / px.length;
      const k = rng.uniform(0.05, 0.1);
      for (let i = 0; i < px.length; i++) px[i] = mean + (px[i] - mean) * k;
      break;
    }
    case 'tiny': {
      const n = Math.max(24, Math.round(spec.size * rng.uniform(0.35, 0.6)));
      px = downscale(px, w, h, n, n);
      w = h = n;
      break;
    }
    default:
      break;
  }
  const data = new Uint8Array(px.length);
  for (let i = 0; i < px.length; i++) data[i] = px[i] < 0 ? 0 : px[i] > 255 ? 255 : Math.round(px[i]);
  return { width: w, height: h, channels: 3, data };
}
