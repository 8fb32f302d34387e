import sharp from 'sharp';
import { assertImageBytes, ImageDecodeError, readImageBytes, type EncodeFormat, type Rng } from '@agekit/dataset';

/** Ranges the augmentation parameters are drawn from. */
export interface AugmentationOptions {
  /** Rotation drawn uniformly in [-maxRotation, maxRotation] degrees (default 10). */
  maxRotation?: number;
  /** Probability of a horizontal flip (default 0.5). */
  flipProbability?: number;
  /** Brightness multiplier drawn in [1 - b, 1 + b] (default 0.2). */
  brightness?: number;
  /** Contrast multiplier drawn in [1 - c, 1 + c], around mid-grey 128 (default 0.2). */
  contrast?: number;
  /** Saturation multiplier drawn in [1 - s, 1 + s] (default 0.2). */
  saturation?: number;
  /** Crop side as a share of the (rotation-safe) image, drawn in [minCropScale, 1] (default 0.85), then scaled back to the input size. */
  minCropScale?: number;
}

export const DEFAULT_AUGMENTATION: Required<AugmentationOptions> = {
  maxRotation: 10,
  flipProbability: 0.5,
  brightness: 0.2,
  contrast: 0.2,
  saturation: 0.2,
  minCropScale: 0.85,
};

/**
 * The exact parameters of one augmented copy: applying them to the same source re-makes the same
 * copy. Values are rounded when drawn (rotation to 0.01 degree, the rest to 0.001) so that their
 * text form (formatTransform) carries them exactly.
 */
export interface AugmentParams {
  /** Degrees, positive = clockwise. The largest same-aspect rectangle free of the rotated corners is kept. */
  rotation: number;
  /** Mirror left-right. */
  flip: boolean;
  brightness: number;
  contrast: number;
  saturation: number;
  /** Crop: side share (0..1] and where the crop sits in the slack, 0..1 from left/top. */
  crop: { scale: number; x: number; y: number };
}

const round = (value: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f + 0; // + 0 turns -0 into 0
};

function checkOptions(options: AugmentationOptions): Required<AugmentationOptions> {
  const o = { ...DEFAULT_AUGMENTATION, ...options };
  const bad = (name: string, value: number, lo: number, hi: number): void => {
    if (!(value >= lo && value <= hi)) throw new Error(`augmentation: ${name} must be in [${lo}, ${hi}] (got ${value})`);
  };
  bad('maxRotation', o.maxRotation, 0, 45);
  bad('flipProbability', o.flipProbability, 0, 1);
  bad('brightness', o.brightness, 0, 0.9);
  bad('contrast', o.contrast, 0, 0.9);
  bad('saturation', o.saturation, 0, 1);
  bad('minCropScale', o.minCropScale, 0.3, 1);
  return o;
}

/** Draw one set of parameters. The draw order is fixed, so the same Rng state gives the same parameters. */
export function drawAugmentation(rng: Rng, options: AugmentationOptions = {}): AugmentParams {
  const o = checkOptions(options);
  const rotation = round(rng.uniform(-o.maxRotation, o.maxRotation), 2);
  const flip = rng.next() < o.flipProbability;
  const brightness = round(rng.uniform(1 - o.brightness, 1 + o.brightness), 3);
  const contrast = round(rng.uniform(1 - o.contrast, 1 + o.contrast), 3);
  const saturation = round(rng.uniform(1 - o.saturation, 1 + o.saturation), 3);
  const scale = round(rng.uniform(o.minCropScale, 1), 3);
  const x = round(rng.next(), 3);
  const y = round(rng.next(), 3);
  return { rotation, flip, brightness, contrast, saturation, crop: { scale, x, y } };
}

/** Text form for CSVs: `rotate(-3.25)+flip(1)+brightness(1.05)+contrast(0.93)+saturation(1.1)+crop(scale=0.912,x=0.31,y=0.77)`. */
export function formatTransform(p: AugmentParams): string {
  return (
    `rotate(${p.rotation})+flip(${p.flip ? 1 : 0})+brightness(${p.brightness})+contrast(${p.contrast})+saturation(${p.saturation})` +
    `+crop(scale=${p.crop.scale},x=${p.crop.x},y=${p.crop.y})`
  );
}

const TRANSFORM =
  /^rotate\((-?[\d.]+)\)\+flip\(([01])\)\+brightness\(([\d.]+)\)\+contrast\(([\d.]+)\)\+saturation\(([\d.]+)\)\+crop\(scale=([\d.]+),x=([\d.]+),y=([\d.]+)\)$/;

/** Parse formatTransform's text back into parameters (to re-make a copy); throws on anything else. */
export function parseTransform(text: string): AugmentParams {
  const m = TRANSFORM.exec(text.trim());
  if (!m) throw new Error(`not an augmentation transform: '${text}'`);
  const n = m.slice(1).map(Number);
  return { rotation: n[0], flip: m[2] === '1', brightness: n[2], contrast: n[3], saturation: n[4], crop: { scale: n[5], x: n[6], y: n[7] } };
}

export interface AugmentImageOptions {
  /** Output encoding (default jpeg). */
  format?: EncodeFormat;
  /** JPEG/WebP quality (default 95). */
  quality?: number;
  /** Name for errors when `input` is a Buffer. */
  file?: string;
}

export interface AugmentedImage {
  /** The encoded image. */
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/**
 * The axis-aligned rectangle of the input's aspect that fits inside the input rotated by
 * `degrees` (so no filled corner shows), as a scale of the input size.
 */
export function rotationSafeScale(width: number, height: number, degrees: number): number {
  const t = (Math.abs(degrees) * Math.PI) / 180;
  const c = Math.abs(Math.cos(t));
  const s = Math.abs(Math.sin(t));
  return Math.min(width / (width * c + height * s), height / (width * s + height * c));
}

/**
 * Make one augmented copy with sharp, in two pipelines: (1) decode, EXIF orientation, rotation;
 * (2) crop inside the largest corner-free rectangle (so no filled corner shows), scale back to the
 * input size, horizontal flip, saturation (a blend with BT.601 luma, as torchvision does),
 * brightness (a multiplier) and contrast (around 128), then encode. The output has the input's
 * (oriented) width and height and 3 channels (sRGB). Same input and parameters -> same bytes.
 */
export async function augmentImage(input: string | Buffer, params: AugmentParams, options: AugmentImageOptions = {}): Promise<AugmentedImage> {
  const file = typeof input === 'string' ? input : (options.file ?? '<buffer>');
  const bytes = typeof input === 'string' ? await readImageBytes(input) : input;
  assertImageBytes(bytes, file);
  let rotated: { data: Buffer; info: sharp.OutputInfo };
  let width: number;
  let height: number;
  try {
    const meta = await sharp(bytes).metadata();
    width = meta.autoOrient?.width ?? meta.width ?? 0;
    height = meta.autoOrient?.height ?? meta.height ?? 0;
    if (!(width > 0 && height > 0)) throw new Error('no image size');
    let first = sharp(bytes, { failOn: 'error' }).autoOrient();
    if (params.rotation !== 0) first = first.rotate(params.rotation, { background: { r: 0, g: 0, b: 0 } });
    rotated = await first.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new ImageDecodeError(file, 'corrupt', (error as Error).message);
  }
  const canvasW = rotated.info.width;
  const canvasH = rotated.info.height;
  const safe = rotationSafeScale(width, height, params.rotation);
  const innerW = Math.min(canvasW, safe * width);
  const innerH = Math.min(canvasH, safe * height);
  const cropW = Math.max(1, Math.min(canvasW, Math.round(innerW * params.crop.scale)));
  const cropH = Math.max(1, Math.min(canvasH, Math.round(innerH * params.crop.scale)));
  const left = Math.min(canvasW - cropW, Math.max(0, Math.floor((canvasW - innerW) / 2 + params.crop.x * (innerW - cropW))));
  const top = Math.min(canvasH - cropH, Math.max(0, Math.floor((canvasH - innerH) / 2 + params.crop.y * (innerH - cropH))));
  let pipeline = sharp(rotated.data, { raw: { width: canvasW, height: canvasH, channels: rotated.info.channels } }).extract({ left, top, width: cropW, height: cropH });
  if (cropW !== width || cropH !== height) pipeline = pipeline.resize(width, height, { fit: 'fill' });
  if (params.flip) pipeline = pipeline.flop();
  if (params.saturation !== 1) pipeline = pipeline.recomb(saturationMatrix(params.saturation));
  if (params.brightness !== 1 || params.contrast !== 1) {
    // contrast c around 128 after brightness b: c * (b * x - 128) + 128
    pipeline = pipeline.linear(params.contrast * params.brightness, 128 * (1 - params.contrast));
  }
  const format = options.format ?? 'jpeg';
  const quality = options.quality ?? 95;
  if (format === 'jpeg') pipeline = pipeline.jpeg({ quality, chromaSubsampling: '4:4:4' });
  else if (format === 'webp') pipeline = pipeline.webp({ quality });
  else pipeline = pipeline.png({ compressionLevel: 6 });
  const out = await pipeline.toBuffer({ resolveWithObject: true });
  return { data: out.data, width: out.info.width, height: out.info.height, channels: out.info.channels };
}

/** 3x3 colour matrix blending each pixel with its BT.601 luma: s = 0 grey, 1 unchanged, > 1 more saturated. */
export function saturationMatrix(s: number): [[number, number, number], [number, number, number], [number, number, number]] {
  const w = [0.299, 0.587, 0.114];
  const row = (i: number): [number, number, number] => [0, 1, 2].map((j) => (1 - s) * w[j] + (i === j ? s : 0)) as [number, number, number];
  return [row(0), row(1), row(2)];
}
