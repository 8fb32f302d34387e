import sharp from 'sharp';
import type { InferenceSession } from 'onnxruntime-node';
import { readBundle, type Bundle, type LabelsSpec } from './bundle';
import { normalizePixels, rgbToGrayOpenCv, type PreprocessSpec } from './preprocess';
import { createOnnxSession, runOnnx } from './verify';

/** Decoded pixels, interleaved rows (structurally @agekit/dataset's PixelImage; this library does not depend on it). */
export interface PredictorImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

export interface ClassProbability {
  label: string;
  probability: number;
}

export interface AgePrediction {
  /** Years: sum_k p_k * age_k (classes with ages) or the regression output; null when the labels carry no ages. */
  expectedAge: number | null;
  /** The most probable classes, most probable first (empty for regression). */
  top: ClassProbability[];
  /** The most probable class when the classes are age groups (not single years); null otherwise. */
  group: string | null;
}

export interface BundlePredictor {
  /** The model's input side (width; the bundles made here are square). */
  readonly inputSize: number;
  readonly bundle: Bundle;
  /** One prediction per face crop, in order; all crops go through the model in one batch. */
  predict(faces: PredictorImage[]): Promise<AgePrediction[]>;
  dispose(): Promise<void>;
}

export interface BundlePredictorOptions {
  /** How many classes to report per face (default 3). */
  top?: number;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  intraOpThreads?: number;
}

/** The whole image as RGB bytes (alpha dropped, gray replicated), as the training pipeline decodes a file. */
function toRgb(image: PredictorImage): Uint8Array {
  const { width, height, channels, data } = image;
  const pixels = width * height;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw new Error(`bad image size ${width}x${height}`);
  if (data.length !== pixels * channels) throw new Error(`image data has ${data.length} bytes, expected ${pixels * channels} (${width}x${height}x${channels})`);
  if (channels === 3) return data;
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    if (channels === 1) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = data[i];
    else {
      rgb[3 * i] = data[4 * i];
      rgb[3 * i + 1] = data[4 * i + 1];
      rgb[3 * i + 2] = data[4 * i + 2];
    }
  }
  return rgb;
}

/**
 * Bring decoded pixels to the model's input bytes exactly as `readImagePixels` does for a file: the whole RGB image
 * stretched to width x height by sharp with the bundle's kernel (fit 'fill'), then OpenCV-rounded gray for 1 channel.
 */
export async function preparePixels(image: PredictorImage, spec: Pick<PreprocessSpec, 'width' | 'height' | 'channels' | 'resize'>): Promise<Uint8Array> {
  const rgb = toRgb(image);
  let resized: Uint8Array;
  if (image.width === spec.width && image.height === spec.height) resized = rgb;
  else {
    const { data, info } = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width: image.width, height: image.height, channels: 3 } })
      .resize(spec.width, spec.height, { fit: 'fill', kernel: spec.resize.method })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.width !== spec.width || info.height !== spec.height || info.channels !== 3) throw new Error(`resized to ${info.width}x${info.height}x${info.channels}, expected ${spec.width}x${spec.height}x3`);
    resized = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return spec.channels === 3 ? Uint8Array.from(resized) : rgbToGrayOpenCv(resized, spec.width * spec.height);
}

/** A label is a single year when its name is exactly its age ("34"); otherwise the classes are groups ("30-39", "YOUNG"). */
function labelsAreGroups(labels: LabelsSpec): boolean {
  return labels.labels.some((l) => l.age === undefined || String(l.age) !== l.name.trim());
}

/** Turn one output row into a prediction, following labels.json. */
export function interpretOutput(labels: LabelsSpec, row: ArrayLike<number>, top = 3): AgePrediction {
  if (labels.task === 'regression') {
    const { scale, offset } = labels.regression ?? { scale: 1, offset: 0 };
    return { expectedAge: row[0] * scale + offset, top: [], group: null };
  }
  const classes = labels.labels;
  if (row.length !== classes.length) throw new Error(`the model gave ${row.length} outputs for ${classes.length} labels`);
  const withAges = classes.every((l) => typeof l.age === 'number' && Number.isFinite(l.age));
  let expectedAge: number | null = null;
  if (withAges) {
    let sum = 0;
    let mass = 0;
    for (const l of classes) {
      sum += row[l.index] * (l.age as number);
      mass += row[l.index];
    }
    expectedAge = mass > 0 ? sum / mass : null;
  }
  const ranked = classes.map((l) => ({ label: l.name, probability: row[l.index] })).sort((a, b) => b.probability - a.probability);
  return { expectedAge, top: ranked.slice(0, Math.max(0, top)), group: labelsAreGroups(labels) ? ranked[0].label : null };
}

/** Load an exported bundle (model.onnx + preprocess.json + labels.json) for prediction on face crops with onnxruntime-node. */
export async function loadBundlePredictor(dir: string, options: BundlePredictorOptions = {}): Promise<BundlePredictor> {
  const bundle = readBundle(dir);
  const spec = bundle.preprocess;
  const top = options.top ?? 3;
  if (!(Number.isInteger(top) && top >= 0)) throw new Error(`top must be a whole number >= 0 (got ${top})`);
  if (bundle.labels.task !== 'classification' && bundle.labels.task !== 'regression') throw new Error(`${bundle.dir}/labels.json: unknown task ${String(bundle.labels.task)}`);
  let session: InferenceSession | undefined = await createOnnxSession(bundle.onnxPath, { threads: options.intraOpThreads });
  const per = spec.width * spec.height * spec.channels;
  return {
    inputSize: spec.width,
    bundle,
    async predict(faces) {
      if (!session) throw new Error('the predictor was disposed');
      if (faces.length === 0) return [];
      const batch = new Float32Array(faces.length * per);
      for (const [i, face] of faces.entries()) batch.set(normalizePixels(await preparePixels(face, spec), spec), i * per);
      const { data } = await runOnnx(session, batch, [faces.length, spec.height, spec.width, spec.channels], spec);
      const width = data.length / faces.length;
      return faces.map((_, i) => interpretOutput(bundle.labels, data.subarray(i * width, (i + 1) * width), top));
    },
    async dispose() {
      const s = session;
      session = undefined;
      await s?.release();
    },
  };
}
