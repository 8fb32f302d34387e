import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createRng, hashString, writeFileAtomic, ProgressTracker, type ProgressCallback, type WorkerEntry } from '@agekit/dataset';
import { buildModel, countParameters, type ArchitectureName } from './architectures';
import { evaluateModel, type Evaluation, type LabelledImages } from './evaluate';
import { defaultNormalization, normalizeBatch, type BatchAugmentation, type Normalization } from './images';
import { loadModel, saveModel, type AgekitModelMetadata } from './io';
import { isClassification, type Task } from './tasks';
import { DataParallelStep, GradientWorkers, resolveWorkerCount, type WorkerCount } from './parallel';
import { createLoss, labelDistributionLoss, seedDropout, targetTensor, type LabelDistribution } from './parallel-loss';
import { createAdam, type BackendName } from '@agekit/runtime';

export type MonitorMetric = 'auc' | 'accuracy' | 'cs5' | 'mae' | 'loss';
const HIGHER_IS_BETTER: Record<MonitorMetric, boolean> = { auc: true, accuracy: true, cs5: true, mae: false, loss: false };

export type LearningRateSchedule =
  | { kind: 'constant' }
  /** Multiply by `gamma` every `everyEpochs` epochs. */
  | { kind: 'step'; everyEpochs: number; gamma: number }
  /** Cosine decay from the initial rate to `minLearningRate` over all epochs. */
  | { kind: 'cosine'; minLearningRate?: number };

export interface FitOptions {
  /** The architecture built (or, with `model`, recorded in the metadata: e.g. 'faceapi-xception+dense'). */
  architecture: AgekitModelMetadata['architecture'];
  /**
   * Train this model (in place, from its current weights) instead of building `architecture`: e.g. a pretrained net
   * fine-tuned whole. Its input must take `size` x `size` x `channels` images and its output match the task. One thread
   * only (the gradient workers rebuild the model from `architecture`).
   */
  model?: tf.LayersModel;
  task: Task;
  size: number;
  channels: 1 | 3;
  train: LabelledImages;
  val: LabelledImages;
  normalization?: Normalization;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  schedule?: LearningRateSchedule;
  /** L2 penalty on conv/dense kernels (default 0). */
  l2?: number;
  /** Dropout rate before the head (default 0.5). */
  dropout?: number;
  /** Cross-entropy class weights: 'none' (default), 'balanced' (inverse frequency, mean 1), or explicit. */
  classWeights?: 'none' | 'balanced' | number[];
  /** Regression loss on standardised ages (default 'l1'). */
  regressionLoss?: 'l1' | 'l2';
  /** Classification over ages: Gaussian soft targets + L1 on the expected age (DLDL-v2; absent = one-hot cross-entropy). */
  labelDistribution?: LabelDistribution;
  /**
   * Classification with `labelDistribution`: `train.targets` are ages in years (e.g. distilled from teachers, see
   * distillation.ts), each the centre of its soft target, instead of class indices (default false).
   */
  ageTargets?: boolean;
  /** Recorded in the metadata (e.g. the distillation's teachers and label weight). */
  distillation?: Record<string, unknown>;
  /** Stop after this many epochs without improvement of `monitor` (0 = never; default 0). */
  earlyStoppingPatience?: number;
  /** Validation metric that picks the best checkpoint (default 'auc' for classification, 'mae' for regression). */
  monitor?: MonitorMetric;
  seed?: number;
  /** Random horizontal flips of training images (default true). */
  flip?: boolean;
  /** Random crops and colour changes of training images, drawn on the fly with the flips (needs `flip`). */
  augmentation?: BatchAugmentation;
  /** Directory for `last/` (model, optimizer state, history) and `best/` checkpoints. */
  checkpointDir?: string;
  /** Continue from `checkpointDir/last` when it exists. */
  resume?: boolean;
  /**
   * Threads computing each step's gradients (synchronous data parallelism; see parallel.ts): 1 (default) = this
   * thread only; N > 1 = this thread plus N - 1 worker threads, each on a shard of the batch; 'auto' = 2 on the
   * single-threaded wasm/cpu backends when there are 2+ cores, else 1. Dropout masks are drawn per shard; batch-norm
   * statistics are per shard and the moving averages are this thread's.
   */
  workers?: WorkerCount;
  /** Module the worker threads load (default: parallel-worker.ts/.js beside parallel.ts; see `defaultWorkerEntry`). */
  workerEntry?: WorkerEntry;
  /** Recorded in the metadata. */
  backend?: string;
  gitCommit?: string;
  onBatch?: ProgressCallback;
  onEpoch?: (record: EpochRecord) => void;
}

export interface EpochMetrics {
  loss: number;
  auc: number | null;
  accuracy: number | null;
  mae: number | null;
  cs5: number | null;
}

export interface EpochRecord {
  epoch: number;
  learningRate: number;
  trainLoss: number;
  val: EpochMetrics;
  trainSeconds: number;
  imagesPerSecond: number;
  /** True when this epoch became the best checkpoint. */
  best: boolean;
}

export interface FitResult {
  /** The model with the best epoch's weights. */
  model: tf.LayersModel;
  metadata: AgekitModelMetadata;
  history: EpochRecord[];
  bestEpoch: number;
  monitor: MonitorMetric;
  stoppedEarly: boolean;
  resumedFromEpoch: number;
  /** Threads that computed the gradients (1 = the main thread only). */
  workers: number;
  /** Validation evaluation of the returned (best) model. */
  validation: Evaluation;
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

export function epochMetrics(e: Evaluation): EpochMetrics {
  return { loss: e.loss, auc: finiteOrNull(e.auc), accuracy: finiteOrNull(e.accuracy), mae: finiteOrNull(e.mae), cs5: finiteOrNull(e.cs5) };
}

export function learningRateAt(epoch: number, epochs: number, base: number, schedule: LearningRateSchedule): number {
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * schedule.gamma ** Math.floor(epoch / Math.max(1, schedule.everyEpochs));
    case 'cosine': {
      const min = schedule.minLearningRate ?? 0;
      return min + ((base - min) * (1 + Math.cos((Math.PI * epoch) / Math.max(1, epochs)))) / 2;
    }
  }
}

/** Inverse-frequency weights over the classes, scaled so the weighted mean over training items is 1. */
export function balancedClassWeights(targets: number[], classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const t of targets) counts[t]++;
  const present = counts.filter((c) => c > 0).length;
  return counts.map((c) => (c > 0 ? targets.length / (present * c) : 0));
}

interface CheckpointState {
  epoch: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestScore: number | null;
  sinceBest: number;
}

function isBetter(metric: MonitorMetric, score: number, best: number | undefined): boolean {
  if (!Number.isFinite(score)) return best === undefined;
  if (best === undefined || !Number.isFinite(best)) return true;
  return HIGHER_IS_BETTER[metric] ? score > best : score < best;
}

async function saveOptimizer(optimizer: tf.Optimizer, dir: string): Promise<void> {
  const weights = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(weights);
  await writeFileAtomic(path.join(dir, 'optimizer.bin'), new Uint8Array(tf.io.CompositeArrayBuffer.join(data)));
  await writeFileAtomic(path.join(dir, 'optimizer.json'), JSON.stringify(specs));
}

async function loadOptimizer(optimizer: tf.Optimizer, dir: string): Promise<void> {
  const specs = JSON.parse(await fs.readFile(path.join(dir, 'optimizer.json'), 'utf8')) as tf.io.WeightsManifestEntry[];
  const bytes = await fs.readFile(path.join(dir, 'optimizer.bin'));
  const map = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, specs);
  await optimizer.setWeights(specs.map((s) => ({ name: s.name, tensor: map[s.name] })));
}

/**
 * Train a model with Adam: cross-entropy (optionally class-weighted) for classification tasks or L1/L2 on standardised
 * ages for regression, optional L2 on kernels, a learning-rate schedule, early stopping, best checkpoint by a
 * validation metric, resumable from `checkpointDir/last`. Every random choice derives from `seed`.
 */
export async function fitModel(options: FitOptions): Promise<FitResult> {
  const task = options.task;
  const classification = isClassification(task);
  const epochs = options.epochs ?? 20;
  const batchSize = options.batchSize ?? 32;
  const baseLr = options.learningRate ?? 1e-3;
  const schedule = options.schedule ?? { kind: 'constant' };
  const l2 = options.l2 ?? 0;
  const seed = options.seed ?? 0;
  const flip = options.flip ?? true;
  const monitor = options.monitor ?? (classification ? 'auc' : 'mae');
  const patience = options.earlyStoppingPatience ?? 0;
  const normalization = options.normalization ?? defaultNormalization(options.channels);
  const classes = task.labels.length;
  const { train, val } = options;
  const trainCount = train.targets.length;
  if (trainCount === 0) throw new Error('no training images');
  if (val.targets.length === 0) throw new Error('no validation images');
  if (train.images.size !== options.size || train.images.channels !== options.channels) {
    throw new Error(`training images are ${train.images.size}px x${train.images.channels}, expected ${options.size}px x${options.channels}`);
  }

  const ageTargets = classification && options.ageTargets === true;
  if (ageTargets && !options.labelDistribution) throw new Error('age targets for a classification task need labelDistribution');
  const weights =
    classification && options.classWeights && options.classWeights !== 'none'
      ? options.classWeights === 'balanced'
        ? balancedClassWeights(train.targets, classes)
        : options.classWeights
      : undefined;
  if (weights && weights.length !== classes) throw new Error(`class weights: ${weights.length} given for ${classes} classes`);

  // with a given model the name is only recorded; buildModel rejects a name it does not know
  const built = options.model === undefined;
  const architecture = {
    architecture: options.architecture as ArchitectureName,
    size: options.size,
    channels: options.channels,
    classes,
    head: classification ? ('classification' as const) : ('regression' as const),
    dropout: options.dropout,
    seed,
  };
  const model = options.model ?? buildModel(architecture);
  const parameters = countParameters(model);
  const optimizer = createAdam(baseLr);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const labelDistribution = labelDistributionLoss(task, options.labelDistribution);
  const lossSpec = { classification, classes, classWeights: weights, regressionLoss: options.regressionLoss ?? 'l1', l2, labelDistribution, ageTargets };
  const lossOf = createLoss(model, lossSpec);
  const backendName = tf.getBackend();
  const workers = built ? resolveWorkerCount(options.workers, backendName) : 1;

  const metadataFor = (metrics: EpochMetrics | undefined): AgekitModelMetadata => ({
    format: 'agekit-model',
    version: 1,
    architecture: options.architecture,
    parameters,
    task,
    input: { layout: 'NHWC', size: options.size, channels: options.channels, colour: options.channels === 3 ? 'rgb' : 'grayscale', resize: 'fill', normalization },
    output: { kind: classification ? 'probabilities' : 'standardized-age' },
    backend: options.backend ?? tf.getBackend(),
    gitCommit: options.gitCommit,
    createdAt: new Date().toISOString(),
    metrics: metrics ? { ...metrics } : undefined,
    training: {
      epochs,
      batchSize,
      learningRate: baseLr,
      schedule,
      l2,
      dropout: options.dropout ?? 0.5,
      classWeights: options.classWeights ?? 'none',
      regressionLoss: options.regressionLoss ?? 'l1',
      ...(options.labelDistribution ? { labelDistribution: { sigma: options.labelDistribution.sigma, expectationWeight: labelDistribution?.expectationWeight } } : {}),
      monitor,
      seed,
      flip,
      ...(options.augmentation ? { augmentation: options.augmentation } : {}),
      ...(options.distillation ? { distillation: options.distillation } : {}),
      workers,
      trainImages: trainCount,
      valImages: val.targets.length,
    },
  });

  let state: CheckpointState = { epoch: 0, history: [], bestEpoch: -1, bestScore: null, sinceBest: 0 };
  let bestWeights: tf.Tensor[] | undefined;
  let resumedFromEpoch = 0;
  const lastDir = options.checkpointDir ? path.join(options.checkpointDir, 'last') : undefined;
  const bestDir = options.checkpointDir ? path.join(options.checkpointDir, 'best') : undefined;
  if (options.resume && lastDir) {
    const stateFile = path.join(lastDir, 'state.json');
    const exists = await fs.stat(stateFile).then(
      () => true,
      () => false,
    );
    if (exists) {
      state = JSON.parse(await fs.readFile(stateFile, 'utf8')) as CheckpointState;
      const last = await loadModel(lastDir);
      model.setWeights(last.model.getWeights());
      last.model.dispose();
      await loadOptimizer(optimizer, lastDir);
      if (bestDir && state.bestEpoch >= 0) {
        const best = await loadModel(bestDir);
        bestWeights = best.model.getWeights().map((w) => w.clone());
        best.model.dispose();
      }
      resumedFromEpoch = state.epoch;
    }
  }

  let stoppedEarly = false;
  let step = state.epoch * Math.ceil(trainCount / batchSize);
  const pool =
    workers > 1 && state.epoch < epochs
      ? await GradientWorkers.start({
          count: workers - 1,
          backend: backendName as BackendName,
          wasmSimd: backendName === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : undefined,
          model: architecture,
          loss: lossSpec,
          workerEntry: options.workerEntry,
        })
      : undefined;
  const parallel = pool ? new DataParallelStep(model, lossOf, pool, { classification, ageTargets, size: options.size, channels: options.channels }) : undefined;
  try {
    for (let epoch = state.epoch; epoch < epochs; epoch++) {
      const lr = learningRateAt(epoch, epochs, baseLr, schedule);
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      const order = createRng(seed).fork(`shuffle-${epoch}`).shuffle(Array.from({ length: trainCount }, (_, i) => i));
      const flipRng = flip ? createRng(seed).fork(`flip-${epoch}`) : undefined;
      const tracker = new ProgressTracker(trainCount, options.onBatch, 500);
      let lossSum = 0;
      const started = performance.now();
      for (let start = 0; start < trainCount; start += batchSize) {
        const indices = order.slice(start, start + batchSize);
        const xs = normalizeBatch(train.images, indices, normalization, flipRng, options.augmentation);
        const dropoutSeed = (shard: number): number => hashString(shard === 0 ? `${seed}-dropout-${step}` : `${seed}-dropout-${step}-shard-${shard}`);
        if (parallel) {
          lossSum += (await parallel.run(optimizer, { x: xs, targets: indices.map((i) => train.targets[i]), dropoutSeed, step })) * indices.length;
        } else {
          seedDropout(model, dropoutSeed(0));
          const x = tf.tensor4d(xs, [indices.length, options.size, options.size, options.channels]);
          const y = targetTensor(indices.map((i) => train.targets[i]), lossSpec);
          const loss = optimizer.minimize(() => lossOf(x, y), true, variables);
          lossSum += (loss as tf.Scalar).dataSync()[0] * indices.length;
          tf.dispose([x, y, loss as tf.Scalar]);
        }
        step++;
        for (let i = 0; i < indices.length; i++) tracker.tick();
      }
      const trainSeconds = (performance.now() - started) / 1000;
      const evaluation = evaluateModel(model, task, val, { normalization, regressionLoss: options.regressionLoss });
      const metrics = epochMetrics(evaluation);
      const score = monitor === 'loss' ? metrics.loss : (metrics[monitor] ?? NaN);
      const improved = isBetter(monitor, score, state.bestScore ?? undefined);
      const record: EpochRecord = {
        epoch: epoch + 1,
        learningRate: lr,
        trainLoss: lossSum / trainCount,
        val: metrics,
        trainSeconds,
        imagesPerSecond: trainCount / trainSeconds,
        best: improved,
      };
      state.history.push(record);
      if (improved) {
        state.bestEpoch = epoch + 1;
        state.bestScore = Number.isFinite(score) ? score : null;
        state.sinceBest = 0;
        bestWeights?.forEach((w) => w.dispose());
        bestWeights = model.getWeights().map((w) => w.clone());
        if (bestDir) await saveModel(model, bestDir, metadataFor(metrics));
      } else {
        state.sinceBest++;
      }
      state.epoch = epoch + 1;
      if (lastDir) {
        await saveModel(model, lastDir, metadataFor(metrics));
        await saveOptimizer(optimizer, lastDir);
        await writeFileAtomic(path.join(lastDir, 'state.json'), JSON.stringify(state));
      }
      options.onEpoch?.(record);
      if (patience > 0 && state.sinceBest >= patience && epoch + 1 < epochs) {
        stoppedEarly = true;
        break;
      }
    }
  } finally {
    await pool?.close();
  }
  if (bestWeights) {
    model.setWeights(bestWeights);
    bestWeights.forEach((w) => w.dispose());
  }
  lossOf.dispose();
  optimizer.dispose();
  const validation = evaluateModel(model, task, val, { normalization, regressionLoss: options.regressionLoss });
  return {
    model,
    metadata: metadataFor(epochMetrics(validation)),
    history: state.history,
    bestEpoch: state.bestEpoch,
    monitor,
    stoppedEarly,
    resumedFromEpoch,
    workers,
    validation,
  };
}
