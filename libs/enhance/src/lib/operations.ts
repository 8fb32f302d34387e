import sharp from 'sharp';
import type { PixelImage } from '@agekit/dataset';
import { addDetail, applyLut, bilateralFilter, equalizeLut, gammaLut, laplacianSharpen } from './filters';
import { mapLuminance, restoreAlpha } from './planes';

/** Resampling kernels for upscaling (sharp's names): 'cubic' = bicubic (Catmull-Rom), 'lanczos3' = Lanczos, a = 3. */
export type UpscaleKernel = 'cubic' | 'lanczos3';

/**
 * One correction and its parameters. Every operation is deterministic. Those marked "Y" act on the
 * luminance plane (BT.601, the plane the quality metrics measure) and keep colour.
 */
export type OperationSpec =
  /** Y. Unsharp mask: Y + amount * (Y - Gaussian(Y, sigma)) where |Y - Gaussian| > threshold. Sharp blurs, typed arrays combine. */
  | { op: 'unsharp'; sigma: number; amount: number; threshold?: number }
  /** Y. High-pass sharpening: Y - amount * Laplacian(Y) (4-neighbour kernel). Typed arrays. */
  | { op: 'highpass'; amount: number }
  /** Y. High-pass texture enhancement: Y + amount * (Y - Gaussian(Y, sigma)) with a large sigma (local contrast). */
  | { op: 'texture'; sigma: number; amount: number }
  /** All colour channels. Gaussian blur with standard deviation sigma (sharp). */
  | { op: 'gaussian'; sigma: number }
  /** All colour channels. Median filter over a size x size square (sharp). */
  | { op: 'median'; size: number }
  /** All colour channels. Edge-preserving bilateral filter (typed arrays). */
  | { op: 'bilateral'; diameter: number; sigmaColor: number; sigmaSpace: number }
  /** Y. Global histogram equalisation (OpenCV equalizeHist's table). */
  | { op: 'equalize' }
  /** Y. Contrast-limited adaptive histogram equalisation over tiles x tiles regions, slope limit maxSlope (sharp). */
  | { op: 'clahe'; tiles: number; maxSlope: number }
  /** Y. Gamma correction 255 * (Y/255)^gamma: < 1 brightens, > 1 darkens. */
  | { op: 'gamma'; gamma: number }
  /** All channels. Upscale so that the shorter side is at least minSide, aspect kept (sharp). No-op when already large enough. */
  | { op: 'upscale'; kernel: UpscaleKernel; minSide: number };

export type OperationName = OperationSpec['op'];

export const OPERATION_NAMES: readonly OperationName[] = [
  'unsharp',
  'highpass',
  'texture',
  'gaussian',
  'median',
  'bilateral',
  'equalize',
  'clahe',
  'gamma',
  'upscale',
];

function fmt(v: number): string {
  return String(Number(v.toFixed(4)));
}

/** Short text of an operation for CSVs and logs, e.g. `unsharp(sigma=1.5,amount=1)`, `gamma(0.6)`, `equalize`. */
export function describeOperation(spec: OperationSpec): string {
  switch (spec.op) {
    case 'unsharp':
      return `unsharp(sigma=${fmt(spec.sigma)},amount=${fmt(spec.amount)}${spec.threshold ? `,threshold=${fmt(spec.threshold)}` : ''})`;
    case 'highpass':
      return `highpass(amount=${fmt(spec.amount)})`;
    case 'texture':
      return `texture(sigma=${fmt(spec.sigma)},amount=${fmt(spec.amount)})`;
    case 'gaussian':
      return `gaussian(sigma=${fmt(spec.sigma)})`;
    case 'median':
      return `median(size=${spec.size})`;
    case 'bilateral':
      return `bilateral(diameter=${spec.diameter},sigmaColor=${fmt(spec.sigmaColor)},sigmaSpace=${fmt(spec.sigmaSpace)})`;
    case 'equalize':
      return 'equalize';
    case 'clahe':
      return `clahe(tiles=${spec.tiles},maxSlope=${fmt(spec.maxSlope)})`;
    case 'gamma':
      return `gamma(${fmt(spec.gamma)})`;
    case 'upscale':
      return `upscale(kernel=${spec.kernel},minSide=${spec.minSide})`;
  }
}

function rawInput(image: { width: number; height: number; channels: 1 | 3 | 4; data: Uint8Array }): sharp.Sharp {
  return sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: image.channels },
  });
}

async function rawOutput(pipeline: sharp.Sharp, expectChannels: 1 | 3 | 4): Promise<PixelImage> {
  // sharp widens a one-band raw input to sRGB on output unless told to stay in 'b-w'
  const { data, info } = await (expectChannels === 1 ? pipeline.toColourspace('b-w') : pipeline).raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== expectChannels) {
    throw new Error(`sharp returned ${info.channels} channels, expected ${expectChannels}`);
  }
  return { width: info.width, height: info.height, channels: expectChannels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** Gaussian blur of a gray plane with sharp (sigma >= 0.3). */
async function blurPlane(plane: Uint8Array, width: number, height: number, sigma: number): Promise<Uint8Array> {
  const out = await rawOutput(rawInput({ width, height, channels: 1, data: plane }).blur(Math.max(0.3, sigma)), 1);
  return out.data;
}

/** The size an image gets when upscaled so that its shorter side is at least minSide (aspect ratio kept). */
export function upscaledSize(width: number, height: number, minSide: number): { width: number; height: number } {
  const short = Math.min(width, height);
  if (short >= minSide) return { width, height };
  const scale = minSide / short;
  return {
    width: width <= height ? minSide : Math.max(minSide, Math.round(width * scale)),
    height: height < width ? minSide : Math.max(minSide, Math.round(height * scale)),
  };
}

/** Resize an image with sharp to exactly width x height (all channels). */
export async function resizeImage(image: PixelImage, width: number, height: number, kernel: UpscaleKernel): Promise<PixelImage> {
  if (width === image.width && height === image.height) return image;
  return rawOutput(rawInput(image).resize(width, height, { kernel, fit: 'fill' }), image.channels);
}

function checkParameters(spec: OperationSpec): void {
  const bad = (field: string, rule: string): never => {
    throw new RangeError(`${spec.op}: ${field} ${rule}`);
  };
  switch (spec.op) {
    case 'unsharp':
    case 'texture':
      if (!(spec.sigma >= 0.3 && spec.sigma <= 100)) bad('sigma', 'must be from 0.3 to 100');
      if (!(spec.amount >= 0)) bad('amount', 'must be >= 0');
      break;
    case 'highpass':
      if (!(spec.amount >= 0)) bad('amount', 'must be >= 0');
      break;
    case 'gaussian':
      if (!(spec.sigma >= 0.3 && spec.sigma <= 100)) bad('sigma', 'must be from 0.3 to 100');
      break;
    case 'median':
      if (!(Number.isInteger(spec.size) && spec.size >= 3 && spec.size % 2 === 1)) bad('size', 'must be an odd integer >= 3');
      break;
    case 'bilateral':
      if (!(Number.isInteger(spec.diameter) && spec.diameter >= 3)) bad('diameter', 'must be an integer >= 3');
      if (!(spec.sigmaColor > 0) || !(spec.sigmaSpace > 0)) bad('sigmaColor/sigmaSpace', 'must be > 0');
      break;
    case 'clahe':
      if (!(Number.isInteger(spec.tiles) && spec.tiles >= 1)) bad('tiles', 'must be an integer >= 1');
      if (!(spec.maxSlope >= 0)) bad('maxSlope', 'must be >= 0');
      break;
    case 'gamma':
      if (!(spec.gamma > 0)) bad('gamma', 'must be > 0');
      break;
    case 'upscale':
      if (!(Number.isInteger(spec.minSide) && spec.minSide >= 1)) bad('minSide', 'must be an integer >= 1');
      break;
    case 'equalize':
      break;
  }
}

/**
 * Apply one operation to an image; returns a new image (the input is never modified).
 * Throws RangeError for parameters out of range.
 */
export async function applyOperation(image: PixelImage, spec: OperationSpec): Promise<PixelImage> {
  checkParameters(spec);
  switch (spec.op) {
    case 'unsharp':
      return mapLuminance(image, async (y, w, h) => addDetail(y, await blurPlane(y, w, h, spec.sigma), spec.amount, spec.threshold ?? 0));
    case 'texture':
      return mapLuminance(image, async (y, w, h) => addDetail(y, await blurPlane(y, w, h, spec.sigma), spec.amount));
    case 'highpass':
      return mapLuminance(image, (y, w, h) => laplacianSharpen(y, w, h, spec.amount));
    case 'gaussian':
      return restoreAlpha(await rawOutput(rawInput(image).blur(spec.sigma), image.channels), image);
    case 'median':
      return restoreAlpha(await rawOutput(rawInput(image).median(spec.size), image.channels), image);
    case 'bilateral':
      return {
        ...image,
        data: bilateralFilter(image.data, image.width, image.height, image.channels, spec.diameter, spec.sigmaColor, spec.sigmaSpace),
      };
    case 'equalize':
      return mapLuminance(image, (y) => applyLut(y, equalizeLut(y)));
    case 'clahe':
      return mapLuminance(image, async (y, w, h) => {
        const out = await rawOutput(
          rawInput({ width: w, height: h, channels: 1, data: y }).clahe({
            width: Math.max(1, Math.ceil(w / spec.tiles)),
            height: Math.max(1, Math.ceil(h / spec.tiles)),
            maxSlope: spec.maxSlope,
          }),
          1,
        );
        return out.data;
      });
    case 'gamma': {
      const lut = gammaLut(spec.gamma);
      return mapLuminance(image, (y) => applyLut(y, lut));
    }
    case 'upscale': {
      const size = upscaledSize(image.width, image.height, spec.minSide);
      return resizeImage(image, size.width, size.height, spec.kernel);
    }
  }
}
