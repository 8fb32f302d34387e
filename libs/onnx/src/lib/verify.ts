import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizePixels, nhwcToNchw, readImagePixels, type PreprocessSpec } from './preprocess';

/** Items done out of total (not @agekit/dataset's ProgressCallback, which carries rate and ETA). */
export type CountCallback = (done: number, total: number) => void;

/** An ONNX Runtime (CPU) session over a model file or its bytes. */
export async function createOnnxSession(model: string | Uint8Array, options: { threads?: number } = {}): Promise<ort.InferenceSession> {
  const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  if (options.threads) sessionOptions.intraOpNumThreads = options.threads;
  return typeof model === 'string' ? ort.InferenceSession.create(model, sessionOptions) : ort.InferenceSession.create(model, sessionOptions);
}

/** Run a batch given in NHWC order through the session (transposed to the session's layout); returns the first output, row-major. */
export async function runOnnx(
  session: ort.InferenceSession,
  nhwc: Float32Array,
  [n, h, w, c]: [number, number, number, number],
  spec: Pick<PreprocessSpec, 'layout' | 'inputName' | 'outputName'>,
): Promise<{ data: Float32Array; dims: number[] }> {
  const data = spec.layout === 'NCHW' ? nhwcToNchw(nhwc, n, h, w, c) : nhwc;
  const dims = spec.layout === 'NCHW' ? [n, c, h, w] : [n, h, w, c];
  const result = await session.run({ [spec.inputName]: new ort.Tensor('float32', data, dims) });
  const out = result[spec.outputName];
  if (!out) throw new Error(`onnx: the model has no output named ${spec.outputName}`);
  return { data: Float32Array.from(out.data as Float32Array), dims: out.dims.map(Number) };
}

/**
 * Run a batch (NHWC) through the tfjs model on the current backend; returns the first output. With `flip`
 * (test-time flip), the mean of the outputs for the batch and for its left-right mirror.
 */
export function runTfjs(model: tf.LayersModel, nhwc: Float32Array, shape: [number, number, number, number], flip = false): Float32Array {
  const first = (y: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(y) ? y[0] : y);
  const out = tf.tidy(() => {
    const x = tf.tensor4d(nhwc, shape);
    const y = first(model.predict(x));
    return flip ? tf.div(tf.add(y, first(model.predict(tf.reverse(x, 2)))), 2) : y;
  });
  const copy = Float32Array.from(out.dataSync() as Float32Array);
  out.dispose();
  return copy;
}

export interface ImageProblem {
  file: string;
  reason: string;
}

export interface VerifyOptions {
  /** The exported model (path or bytes). */
  onnx: string | Uint8Array;
  /** The tfjs model it came from (run on the current tfjs backend; use 'cpu' for exact reference outputs). */
  model: tf.LayersModel;
  preprocess: PreprocessSpec;
  /** Image files to compare on. */
  images: string[];
  /** Largest allowed absolute difference between the outputs (default 1e-4). */
  tolerance?: number;
  /** Fewer successfully decoded images than this fails the verification (default 64). */
  minImages?: number;
  batchSize?: number;
  onProgress?: CountCallback;
  /** True ages of `images` (same order): the report then gives both models' MAE on them. */
  ages?: number[];
  /** Age in years from one image's output row (required with `ages`). */
  expectedAge?: (output: Float32Array) => number;
  /** Largest allowed |MAE(onnx) - MAE(tfjs)| in years when ages are given (default: not checked). */
  maxMaeChange?: number;
  /** The ONNX graph flips at test time (convert's `testTimeFlip`): the tfjs reference averages the mirror too. */
  testTimeFlip?: boolean;
}

/** Mean absolute age error of the reference and of the ONNX model on the labelled images. */
export interface MaeComparison {
  images: number;
  reference: number;
  onnx: number;
  /** onnx - reference (positive: the ONNX model is worse). */
  change: number;
}

export interface VerifyReport {
  /** Images compared (decoded successfully). */
  images: number;
  /** Images that could not be read (they do not stop the run). */
  problems: ImageProblem[];
  maxAbsDiff: number;
  meanAbsDiff: number;
  /** Share of images whose arg-max output is the same on both sides. */
  argmaxAgreement: number;
  tolerance: number;
  passed: boolean;
  /** Why it failed, when it did. */
  failure?: string;
  /** tfjs backend that produced the reference. */
  backend: string;
  /** With `ages`: the MAE of both sides. */
  mae?: MaeComparison;
}

/** Compare onnxruntime-node and tfjs outputs on the same preprocessed images. */
export async function verifyAgainstTfjs(options: VerifyOptions): Promise<VerifyReport> {
  const tolerance = options.tolerance ?? 1e-4;
  const minImages = options.minImages ?? 64;
  const batchSize = options.batchSize ?? 16;
  const spec = options.preprocess;
  const session = await createOnnxSession(options.onnx);
  const problems: ImageProblem[] = [];
  let compared = 0;
  let maxAbsDiff = 0;
  let sumAbsDiff = 0;
  let count = 0;
  let agree = 0;
  let labelled = 0;
  let errorReference = 0;
  let errorOnnx = 0;
  if (options.ages && (options.ages.length !== options.images.length || !options.expectedAge)) {
    throw new Error(`verify: ages (${options.ages.length}) must match the images (${options.images.length}) and come with expectedAge`);
  }
  const per = spec.width * spec.height * spec.channels;
  try {
    for (let start = 0; start < options.images.length; start += batchSize) {
      const files = options.images.slice(start, start + batchSize);
      const pixels: Float32Array[] = [];
      const batchAges: number[] = [];
      for (const [k, file] of files.entries()) {
        try {
          pixels.push(normalizePixels(await readImagePixels(file, spec), spec));
          batchAges.push(options.ages ? options.ages[start + k] : Number.NaN);
        } catch (error) {
          problems.push({ file, reason: error instanceof Error ? error.message : String(error) });
        }
      }
      if (pixels.length > 0) {
        const batch = new Float32Array(pixels.length * per);
        pixels.forEach((p, i) => batch.set(p, i * per));
        const shape: [number, number, number, number] = [pixels.length, spec.height, spec.width, spec.channels];
        const expected = runTfjs(options.model, batch, shape, options.testTimeFlip);
        const actual = await runOnnx(session, batch, shape, spec);
        if (actual.data.length !== expected.length) {
          throw new Error(`output sizes differ: onnx ${actual.data.length} (dims ${actual.dims}) vs tfjs ${expected.length}`);
        }
        const width = expected.length / pixels.length;
        for (let b = 0; b < pixels.length; b++) {
          let bestE = 0;
          let bestA = 0;
          for (let k = 0; k < width; k++) {
            const i = b * width + k;
            const d = Math.abs(actual.data[i] - expected[i]);
            if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(maxAbsDiff, d);
            sumAbsDiff += d;
            count++;
            if (expected[i] > expected[b * width + bestE]) bestE = k;
            if (actual.data[i] > actual.data[b * width + bestA]) bestA = k;
          }
          if (bestE === bestA) agree++;
          if (options.ages && options.expectedAge && Number.isFinite(batchAges[b])) {
            errorReference += Math.abs(options.expectedAge(expected.subarray(b * width, (b + 1) * width)) - batchAges[b]);
            errorOnnx += Math.abs(options.expectedAge(actual.data.subarray(b * width, (b + 1) * width)) - batchAges[b]);
            labelled++;
          }
        }
        compared += pixels.length;
      }
      options.onProgress?.(Math.min(start + batchSize, options.images.length), options.images.length);
    }
  } finally {
    await session.release();
  }
  const mae = labelled ? { images: labelled, reference: errorReference / labelled, onnx: errorOnnx / labelled, change: (errorOnnx - errorReference) / labelled } : undefined;
  let failure: string | undefined;
  if (compared < minImages) failure = `only ${compared} images could be compared (at least ${minImages} are required)`;
  else if (!(maxAbsDiff <= tolerance)) failure = `largest absolute difference ${maxAbsDiff.toExponential(3)} is above the tolerance ${tolerance}`;
  else if (options.maxMaeChange !== undefined && options.ages && !mae) failure = 'no labelled image could be compared for the MAE change';
  else if (options.maxMaeChange !== undefined && mae && !(Math.abs(mae.change) <= options.maxMaeChange)) {
    failure = `the MAE changes by ${mae.change.toFixed(3)} years (${mae.reference.toFixed(3)} -> ${mae.onnx.toFixed(3)}), more than ${options.maxMaeChange}`;
  }
  return {
    images: compared,
    problems,
    maxAbsDiff,
    meanAbsDiff: count ? sumAbsDiff / count : 0,
    argmaxAgreement: compared ? agree / compared : 0,
    tolerance,
    passed: failure === undefined,
    failure,
    backend: tf.getBackend(),
    mae,
  };
}

export interface CheckerReport {
  /** 'skipped' when Debian's python3-onnx is not installed. */
  status: 'passed' | 'failed' | 'skipped';
  message: string;
}

const CHECKER_SCRIPT = [
  'import sys',
  'import onnx',
  'model = onnx.load(sys.argv[1])',
  'onnx.checker.check_model(model, full_check=True)',
  "print('onnx ' + onnx.__version__ + ': check_model(full_check=True) passed')",
].join('\n');

/** Run `onnx.checker.check_model(model, full_check=True)` with Debian's python3-onnx, when present. */
export function checkWithPythonOnnx(model: string | Uint8Array, options: { python?: string } = {}): CheckerReport {
  const python = options.python ?? '/usr/bin/python3';
  if (!existsSync(python)) return { status: 'skipped', message: `skipped: ${python} not found` };
  const probe = spawnSync(python, ['-c', 'import onnx'], { encoding: 'utf8' });
  if (probe.status !== 0) return { status: 'skipped', message: `skipped: python module 'onnx' is not installed for ${python} (Debian: apt install python3-onnx)` };
  let dir: string | undefined;
  let file: string;
  if (typeof model === 'string') file = model;
  else {
    dir = mkdtempSync(join(tmpdir(), 'agekit-onnx-check-'));
    file = join(dir, 'model.onnx');
    writeFileSync(file, model);
  }
  try {
    const run = spawnSync(python, ['-c', CHECKER_SCRIPT, file], { encoding: 'utf8' });
    if (run.status === 0) return { status: 'passed', message: run.stdout.trim() };
    const lines = `${run.stderr}`.trim().split('\n');
    return { status: 'failed', message: lines.slice(-3).join(' | ') || `python exited with ${run.status}` };
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
