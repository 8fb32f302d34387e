import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createRng, hashString, ProgressTracker, writeFileAtomic, type ProgressCallback } from '@agekit/dataset';
import {
  balancedClassWeights,
  createLoss,
  epochMetrics,
  isClassification,
  labelDistributionLoss,
  layerSeed,
  learningRateAt,
  normalizeBatch,
  scoreOutputs,
  seedDropout,
  type AgekitModelMetadata,
  type EpochMetrics,
  type Evaluation,
  type ImageSet,
  type LabelDistribution,
  type LearningRateSchedule,
  type MonitorMetric,
  type Normalization,
  type Task,
} from '@agekit/model';
import { createAdam } from '@agekit/runtime';
import { applyFaceApiXception, FACEAPI_FEATURES, FACEAPI_INPUT_SIZE, FACEAPI_NORMALIZATION } from './faceapi-xception';

/** Backbones a transfer model can be built on. */
export type BackboneName = 'faceapi-xception';
export const BACKBONES: readonly BackboneName[] = ['faceapi-xception'];

export interface BackboneInfo {
  name: BackboneName;
  size: number;
  channels: 3;
  features: number;
  normalization: Normalization;
}

export function backboneInfo(name: BackboneName): BackboneInfo {
  if (name !== 'faceapi-xception') throw new Error(`unknown backbone '${String(name)}' (known: ${BACKBONES.join(', ')})`);
  return { name, size: FACEAPI_INPUT_SIZE, channels: 3, features: FACEAPI_FEATURES, normalization: FACEAPI_NORMALIZATION };
}

/** Features of a set of images: count x dims float32, row-major. */
export interface FeatureSet {
  count: number;
  /** Values per row (the product of `shape`). */
  dims: number;
  values: Float32Array;
  /** Shape of one row when it is not a vector (e.g. [14, 14, 128] activations); absent = [dims]. */
  shape?: number[];
}

export interface ExtractFeaturesOptions {
  normalization: Normalization;
  batchSize?: number;
  /** Mirror every image left-right before the backbone (features of the flipped images, for augmentation). */
  mirror?: boolean;
  onProgress?: ProgressCallback;
}

/** Shape of one row of a feature set. */
export function rowShape(set: FeatureSet): number[] {
  return set.shape ?? [set.dims];
}

function mirrorRows(data: Float32Array, n: number, size: number, channels: number): void {
  const row = size * channels;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < size; y++) {
      const base = (b * size + y) * row;
      for (let x = 0; x < size >> 1; x++) {
        const l = base + x * channels;
        const r = base + (size - 1 - x) * channels;
        for (let c = 0; c < channels; c++) {
          const t = data[l + c];
          data[l + c] = data[r + c];
          data[r + c] = t;
        }
      }
    }
  }
}

/** Run a feature extractor (inference mode) over all images of a set; any output rank (rows are flattened). */
export function extractFeatures(backbone: tf.LayersModel, images: Pick<ImageSet, 'size' | 'channels' | 'pixels'>, options: ExtractFeaturesOptions): FeatureSet {
  const per = images.size * images.size * images.channels;
  const count = images.pixels.length / per;
  const shape = backbone.outputs[0].shape.slice(1).map((d) => d ?? 0);
  const dims = shape.reduce((a, b) => a * b, 1);
  if (dims === 0) throw new Error(`extractFeatures: the model's output shape [${backbone.outputs[0].shape}] is not fixed`);
  const values = new Float32Array(count * dims);
  const batchSize = options.batchSize ?? 32;
  const tracker = new ProgressTracker(count, options.onProgress, 1000);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const data = normalizeBatch(images, Array.from({ length: n }, (_, i) => start + i), options.normalization);
    if (options.mirror) mirrorRows(data, n, images.size, images.channels);
    const out = tf.tidy(() => backbone.predict(tf.tensor4d(data, [n, images.size, images.size, images.channels])) as tf.Tensor);
    values.set(out.dataSync(), start * dims);
    out.dispose();
    for (let i = 0; i < n; i++) tracker.tick();
  }
  return shape.length > 1 ? { count, dims, values, shape } : { count, dims, values };
}

export interface CachedFeaturesOptions extends ExtractFeaturesOptions {
  /** Identifies the backbone and its weights (part of the cache key). */
  backboneId: string;
  /** Cache directory (absent: no cache). Files: `<name>-features-<key>.f32` + `.json`. */
  cacheDir?: string;
  name?: string;
}

function pixelsHash(pixels: Uint8Array): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < pixels.length; i++) {
    h1 = Math.imul(h1 ^ pixels[i], 16777619);
    if ((i & 63) === 0) h2 = Math.imul(h2 ^ h1, 2246822519);
  }
  return `${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}`;
}

/**
 * Features computed once per image set and cached on disk: the key hashes the backbone id, the image ids and the
 * decoded pixels, so a changed image, resize or backbone never reuses stale features.
 */
export async function cachedFeatures(backbone: tf.LayersModel, images: Pick<ImageSet, 'ids' | 'size' | 'channels' | 'pixels'>, options: CachedFeaturesOptions): Promise<FeatureSet & { fromCache: boolean }> {
  const key = hashString(`${options.backboneId}|${options.mirror ? 'mirror|' : ''}${images.size}|${images.channels}|${images.ids.join('\n')}|${pixelsHash(images.pixels)}`).toString(16);
  const base = options.cacheDir ? path.join(options.cacheDir, `${options.name ?? 'images'}-features-${key}`) : undefined;
  if (base) {
    try {
      const meta = JSON.parse(await fs.readFile(`${base}.json`, 'utf8')) as { count: number; dims: number; shape?: number[] };
      const bytes = await fs.readFile(`${base}.f32`);
      if (bytes.byteLength === meta.count * meta.dims * 4 && meta.count === images.ids.length) {
        const values = new Float32Array(meta.count * meta.dims);
        new Uint8Array(values.buffer).set(bytes);
        return { count: meta.count, dims: meta.dims, values, ...(meta.shape ? { shape: meta.shape } : {}), fromCache: true };
      }
    } catch {
      // no usable cache: compute below
    }
  }
  const set = extractFeatures(backbone, images, options);
  if (base) {
    await writeFileAtomic(`${base}.f32`, new Uint8Array(set.values.buffer, set.values.byteOffset, set.values.byteLength));
    await writeFileAtomic(`${base}.json`, JSON.stringify({ count: set.count, dims: set.dims, shape: set.shape, backbone: options.backboneId, mirror: options.mirror ?? false, size: images.size }));
  }
  return { ...set, fromCache: false };
}

export interface HeadSpec {
  /** Hidden dense units (ReLU); 0 = a linear head straight on the features (default 256). */
  hidden?: number;
  /** Dropout before each dense layer (default 0.5). */
  dropout?: number;
}

function applyHead(x: tf.SymbolicTensor, task: Task, spec: HeadSpec, seed: number): tf.SymbolicTensor {
  const hidden = spec.hidden ?? 256;
  const dropout = spec.dropout ?? 0.5;
  let out = x;
  let n = 0;
  const init = (): ReturnType<typeof tf.initializers.glorotUniform> => tf.initializers.glorotUniform({ seed: layerSeed(seed, n++) });
  if (hidden > 0) {
    if (dropout > 0) out = tf.layers.dropout({ name: 'head_dropout0', rate: dropout }).apply(out) as tf.SymbolicTensor;
    out = tf.layers.dense({ name: 'head_dense0', units: hidden, activation: 'relu', kernelInitializer: init() }).apply(out) as tf.SymbolicTensor;
  }
  if (dropout > 0) out = tf.layers.dropout({ name: 'head_dropout1', rate: dropout }).apply(out) as tf.SymbolicTensor;
  const classification = isClassification(task);
  return tf.layers
    .dense({ name: 'head_out', units: classification ? task.labels.length : 1, activation: classification ? 'softmax' : 'linear', kernelInitializer: init() })
    .apply(out) as tf.SymbolicTensor;
}

/** A dense head on `features`-d vectors: [dropout, dense(hidden, relu)], dropout, dense(K, softmax) or dense(1). */
export function buildHead(features: number, task: Task, spec: HeadSpec = {}, seed = 0): tf.LayersModel {
  const input = tf.input({ shape: [features], name: 'head_input' });
  return tf.model({ inputs: input, outputs: applyHead(input, task, spec, seed), name: 'head' });
}

/** Targets and true ages of a feature set (as from `prepareSplit`). */
export interface LabelledFeatures {
  features: FeatureSet;
  targets: number[];
  ages: number[];
  /** The same rows computed on the mirrored images: training then uses one or the other at random (flip augmentation). */
  mirrored?: FeatureSet;
}

export interface TrainHeadOptions {
  task: Task;
  train: LabelledFeatures;
  val: LabelledFeatures;
  head?: HeadSpec;
  /**
   * Train this model instead of a fresh head (e.g. `buildFineTuneModel`: the last backbone blocks + a trained head, on
   * cached activations). Its input takes one row of `train.features` (shape `rowShape`); it is trained in place and
   * returned as `head`. Absent: `buildHead(dims, task, head, seed)`.
   */
  model?: tf.LayersModel;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  schedule?: LearningRateSchedule;
  /** L2 penalty on the dense kernels (default 1e-4). */
  l2?: number;
  classWeights?: 'none' | 'balanced';
  regressionLoss?: 'l1' | 'l2';
  /** Classification over ages: Gaussian soft targets + L1 on the expected age (DLDL-v2; absent = one-hot cross-entropy). */
  labelDistribution?: LabelDistribution;
  /** Default 'auc' (classification) or 'mae' (regression). */
  monitor?: MonitorMetric;
  /** Stop after this many epochs without improvement (0 = never; default 10). */
  earlyStoppingPatience?: number;
  seed?: number;
  onEpoch?: (record: HeadEpochRecord) => void;
}

export interface HeadEpochRecord {
  epoch: number;
  learningRate: number;
  trainLoss: number;
  val: EpochMetrics;
  best: boolean;
}

export interface TrainHeadResult {
  /** The head with the best epoch's weights. */
  head: tf.LayersModel;
  history: HeadEpochRecord[];
  bestEpoch: number;
  monitor: MonitorMetric;
  stoppedEarly: boolean;
  /** Validation evaluation of the best head. */
  validation: Evaluation;
  seconds: number;
}

const HIGHER_IS_BETTER: Record<MonitorMetric, boolean> = { auc: true, accuracy: true, cs5: true, mae: false, loss: false };

/** The monitored metric of an evaluation (NaN when undefined, e.g. AUC of a regression). */
export function monitoredScore(evaluation: Evaluation, monitor: MonitorMetric): number {
  const metrics = epochMetrics(evaluation);
  return monitor === 'loss' ? metrics.loss : (metrics[monitor] ?? NaN);
}

/** Whether `score` beats `best` for the metric (any finite score beats no best). */
export function improvesOn(monitor: MonitorMetric, score: number, best: number | undefined): boolean {
  if (!Number.isFinite(score)) return false;
  if (best === undefined || !Number.isFinite(best)) return true;
  return HIGHER_IS_BETTER[monitor] ? score > best : score < best;
}

function predictRows(model: tf.LayersModel, set: FeatureSet, batchSize = set.shape ? 64 : 512): number[][] {
  const rows: number[][] = [];
  const shape = rowShape(set);
  for (let start = 0; start < set.count; start += batchSize) {
    const n = Math.min(batchSize, set.count - start);
    const out = tf.tidy(() => model.predict(tf.tensor(set.values.subarray(start * set.dims, (start + n) * set.dims), [n, ...shape])) as tf.Tensor);
    const values = out.dataSync();
    const width = out.shape[1] ?? 1;
    out.dispose();
    for (let i = 0; i < n; i++) rows.push(Array.from(values.subarray(i * width, (i + 1) * width)));
  }
  return rows;
}

/** Score a head on labelled features with the metrics of `evaluateModel`. */
export function evaluateHead(head: tf.LayersModel, task: Task, data: LabelledFeatures, regressionLoss: 'l1' | 'l2' = 'l1'): Evaluation {
  return scoreOutputs(task, predictRows(head, data.features), data, { regressionLoss });
}

/**
 * Train a dense head on cached features with Adam: cross-entropy (optionally class-balanced) or L1/L2 on standardised
 * ages, L2 on kernels, dropout, a learning-rate schedule, early stopping, best epoch by a validation metric.
 * Every random choice (init, shuffling, dropout masks) derives from `seed`.
 */
export async function trainHead(options: TrainHeadOptions): Promise<TrainHeadResult> {
  const started = performance.now();
  const { task, train, val } = options;
  const classification = isClassification(task);
  const epochs = options.epochs ?? 60;
  const batchSize = options.batchSize ?? 64;
  const baseLr = options.learningRate ?? 1e-3;
  const schedule = options.schedule ?? { kind: 'cosine' };
  const l2 = options.l2 ?? 1e-4;
  const seed = options.seed ?? 0;
  const monitor = options.monitor ?? (classification ? 'auc' : 'mae');
  const patience = options.earlyStoppingPatience ?? 10;
  const dims = train.features.dims;
  if (train.features.count === 0) throw new Error('no training features');
  if (val.features.count === 0) throw new Error('no validation features');
  if (val.features.dims !== dims) throw new Error(`feature sizes differ: train ${dims}, val ${val.features.dims}`);
  if (train.mirrored && (train.mirrored.count !== train.features.count || train.mirrored.dims !== dims)) throw new Error('mirrored features do not match the training features');
  const shape = rowShape(train.features);
  const head = options.model ?? buildHead(dims, task, options.head, seed);
  const inputShape = head.inputs[0].shape.slice(1);
  if (inputShape.join('x') !== shape.join('x')) throw new Error(`the model takes [${inputShape}] per row, the features are [${shape}]`);
  const optimizer = createAdam(baseLr);
  const variables = head.trainableWeights.map((w) => w.read() as tf.Variable);
  const count = train.features.count;
  // L2 on the dense kernels only: fine-tuned backbone convolutions keep their pretrained scale
  const lossOf = createLoss(head, {
    classification,
    classes: task.labels.length,
    classWeights: classification && options.classWeights === 'balanced' ? balancedClassWeights(train.targets, task.labels.length) : undefined,
    regressionLoss: options.regressionLoss ?? 'l1',
    l2,
    l2Layers: 'dense',
    labelDistribution: labelDistributionLoss(task, options.labelDistribution),
  });

  const history: HeadEpochRecord[] = [];
  let best: number | undefined;
  let bestEpoch = -1;
  let bestWeights: tf.Tensor[] | undefined;
  let sinceBest = 0;
  let stoppedEarly = false;
  let step = 0;
  const batch = new Float32Array(batchSize * dims);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const lr = learningRateAt(epoch, epochs, baseLr, schedule);
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
    const order = createRng(seed).fork(`head-shuffle-${epoch}`).shuffle(Array.from({ length: count }, (_, i) => i));
    const flips = createRng(seed).fork(`head-flip-${epoch}`);
    let lossSum = 0;
    for (let start = 0; start < count; start += batchSize) {
      const indices = order.slice(start, start + batchSize);
      indices.forEach((idx, i) => {
        const source = train.mirrored && flips.next() < 0.5 ? train.mirrored : train.features;
        batch.set(source.values.subarray(idx * dims, (idx + 1) * dims), i * dims);
      });
      seedDropout(head, hashString(`${seed}-head-dropout-${step++}`));
      const x = tf.tensor(batch.subarray(0, indices.length * dims), [indices.length, ...shape]);
      const y = classification ? tf.tensor1d(indices.map((i) => train.targets[i]), 'int32') : tf.tensor1d(indices.map((i) => train.targets[i]));
      const loss = optimizer.minimize(() => lossOf(x, y), true, variables) as tf.Scalar;
      lossSum += loss.dataSync()[0] * indices.length;
      tf.dispose([x, y, loss]);
    }
    const evaluation = evaluateHead(head, task, val, options.regressionLoss);
    const metrics = epochMetrics(evaluation);
    const score = monitoredScore(evaluation, monitor);
    const improved = improvesOn(monitor, score, best);
    if (improved) {
      best = score;
      bestEpoch = epoch + 1;
      sinceBest = 0;
      bestWeights?.forEach((w) => w.dispose());
      bestWeights = head.getWeights().map((w) => w.clone());
    } else {
      sinceBest++;
    }
    const record: HeadEpochRecord = { epoch: epoch + 1, learningRate: lr, trainLoss: lossSum / count, val: metrics, best: improved };
    history.push(record);
    options.onEpoch?.(record);
    if (patience > 0 && sinceBest >= patience && epoch + 1 < epochs) {
      stoppedEarly = true;
      break;
    }
  }
  if (bestWeights) {
    head.setWeights(bestWeights);
    bestWeights.forEach((w) => w.dispose());
  }
  lossOf.dispose();
  optimizer.dispose();
  const validation = evaluateHead(head, task, val, options.regressionLoss);
  return { head, history, bestEpoch, monitor, stoppedEarly, validation, seconds: (performance.now() - started) / 1000 };
}

/**
 * One flat Layers model: the backbone (weights copied from `backbone`, built by `buildFaceApiXception`) followed by
 * the head (weights copied from `head`, built by `buildHead` with the same task and spec). No nested models, so the
 * ONNX exporter converts it layer by layer. Input: [N, 112, 112, 3] normalised with the backbone's normalization.
 */
export function composeTransferModel(backbone: tf.LayersModel, head: tf.LayersModel, task: Task, spec: HeadSpec = {}, prefix = 'faceapi'): tf.LayersModel {
  const input = tf.input({ shape: [FACEAPI_INPUT_SIZE, FACEAPI_INPUT_SIZE, 3], name: `${prefix}_input` });
  const { features } = applyFaceApiXception(input, prefix);
  const output = applyHead(features, task, spec, 0);
  const model = tf.model({ inputs: input, outputs: output, name: 'transfer' });
  const sources = new Map<string, tf.layers.Layer>([...backbone.layers, ...head.layers].map((l) => [l.name, l]));
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const source = sources.get(layer.name);
    if (!source) throw new Error(`composeTransferModel: no source layer for '${layer.name}'`);
    layer.setWeights(source.getWeights());
  }
  return model;
}

export interface TransferMetadataOptions {
  backbone: BackboneName;
  task: Task;
  parameters: number;
  backend: string;
  gitCommit?: string;
  metrics?: EpochMetrics;
  training?: Record<string, unknown>;
}

/** The agekit metadata of a composed transfer model (standard format; `architecture` names backbone + head). */
export function transferMetadata(options: TransferMetadataOptions): AgekitModelMetadata {
  const info = backboneInfo(options.backbone);
  return {
    format: 'agekit-model',
    version: 1,
    // ArchitectureName only lists the trainable-from-scratch architectures; a transfer model records its backbone here.
    architecture: `${options.backbone}+dense`,
    parameters: options.parameters,
    task: options.task,
    input: { layout: 'NHWC', size: info.size, channels: info.channels, colour: 'rgb', resize: 'fill', normalization: info.normalization },
    output: { kind: isClassification(options.task) ? 'probabilities' : 'standardized-age' },
    backend: options.backend,
    gitCommit: options.gitCommit,
    createdAt: new Date().toISOString(),
    metrics: options.metrics ? { ...options.metrics } : undefined,
    training: options.training,
  };
}
