import sharp from 'sharp';
import type { InputLayout } from './convert';
import type { ModelFormat } from './quantize';

/** sharp resize kernels usable for the documented resize step. */
export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';

/** Everything a consumer needs to turn an image file into the model's input tensor (written as preprocess.json). */
export interface PreprocessSpec {
  /** Model input size in pixels. */
  width: number;
  height: number;
  /** 3: colour in `colorOrder`; 1: grayscale. */
  channels: 1 | 3;
  colorOrder: 'RGB' | 'GRAY';
  /** How the image is brought to width x height: the whole decoded image is stretched (no crop, no letterbox) by sharp with this kernel. */
  resize: { method: ResizeKernel; fit: 'fill'; library: 'sharp' };
  /** Range of the decoded pixel values before normalisation. */
  valueRange: [number, number];
  /** value = (pixel * scale - mean[c]) / std[c], per channel c. */
  scale: number;
  mean: number[];
  std: number[];
  /** Layout of the ONNX input tensor. */
  layout: InputLayout;
  inputName: string;
  outputName: string;
  /** Input dims in `layout` order ('N' = any batch). */
  inputShape: Array<number | string>;
  /** Number format of model.onnx; the input and output tensors are float32 in every format. Absent in older bundles: float32. */
  modelFormat?: ModelFormat;
}

/** RGB -> gray with OpenCV's fixed-point BGR2GRAY rounding (what cv::imread(IMREAD_GRAYSCALE)/cvtColor produce). */
export function rgbToGrayOpenCv(rgb: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) out[i] = (rgb[j] * 4899 + rgb[j + 1] * 9617 + rgb[j + 2] * 1868 + 8192) >> 14;
  return out;
}

/**
 * Decode an image file fully (EXIF orientation applied, RGB), resize the whole image to exactly width x height with
 * sharp (fit 'fill', the spec's kernel) and, for 1 channel, convert to gray with OpenCV's rounding. Returns HWC bytes.
 * This is the @agekit/model training pipeline (decode, then resize the RGB pixels, then gray).
 */
export async function readImagePixels(file: string | Buffer, spec: Pick<PreprocessSpec, 'width' | 'height' | 'channels' | 'resize'>): Promise<Uint8Array> {
  const decoded = await sharp(file, { failOn: 'error' }).rotate().toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { data, info } = await sharp(decoded.data, { raw: { width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels } })
    .resize(spec.width, spec.height, { fit: 'fill', kernel: spec.resize.method })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== spec.width || info.height !== spec.height) throw new Error(`resized to ${info.width}x${info.height}, expected ${spec.width}x${spec.height}`);
  let rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (info.channels === 1) {
    // a grayscale source: replicate to RGB so both branches below see 3 channels
    const expanded = new Uint8Array(rgb.length * 3);
    for (let i = 0; i < rgb.length; i++) expanded[3 * i] = expanded[3 * i + 1] = expanded[3 * i + 2] = rgb[i];
    rgb = expanded;
  } else if (info.channels !== 3) {
    throw new Error(`decoded ${info.channels} channels, expected RGB`);
  }
  return spec.channels === 3 ? Uint8Array.from(rgb) : rgbToGrayOpenCv(rgb, spec.width * spec.height);
}

/** Write the image resized exactly as `readImagePixels` does, as a lossless PNG (the shared input of the C++ comparison). */
export async function writePresizedImage(file: string, spec: Pick<PreprocessSpec, 'width' | 'height' | 'channels' | 'resize'>, outFile: string): Promise<void> {
  const pixels = await readImagePixels(file, spec);
  await sharp(Buffer.from(pixels), { raw: { width: spec.width, height: spec.height, channels: spec.channels } })
    .png({ compressionLevel: 1 })
    .toFile(outFile);
}

/** Normalise HWC bytes into float values (NHWC order for one image). */
export function normalizePixels(pixels: Uint8Array, spec: Pick<PreprocessSpec, 'channels' | 'scale' | 'mean' | 'std'>): Float32Array {
  const c = spec.channels;
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const k = i % c;
    out[i] = (pixels[i] * spec.scale - spec.mean[k]) / spec.std[k];
  }
  return out;
}

/** NHWC -> NCHW for a batch. */
export function nhwcToNchw(data: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + x] = data[((b * h + y) * w + x) * c + k];
  return out;
}

export function validatePreprocessSpec(spec: PreprocessSpec): void {
  const problems: string[] = [];
  if (!(Number.isInteger(spec.width) && spec.width > 0 && Number.isInteger(spec.height) && spec.height > 0)) problems.push('width/height must be positive integers');
  if (spec.channels !== 1 && spec.channels !== 3) problems.push('channels must be 1 or 3');
  if (spec.mean.length !== spec.channels || spec.std.length !== spec.channels) problems.push(`mean and std need ${spec.channels} values`);
  if (spec.std.some((s) => !(s > 0))) problems.push('std values must be > 0');
  if (spec.layout !== 'NCHW' && spec.layout !== 'NHWC') problems.push(`layout ${String(spec.layout)} is not NCHW or NHWC`);
  if (problems.length) throw new Error(`preprocess spec: ${problems.join('; ')}`);
}
