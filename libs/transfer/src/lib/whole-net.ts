import * as tf from '@tensorflow/tfjs';
import {
  evaluateModel,
  fitModel,
  type BatchAugmentation,
  type EpochRecord,
  type Evaluation,
  type LabelledImages,
  type MonitorMetric,
  type Task,
} from '@agekit/model';
import { FACEAPI_INPUT_SIZE, FACEAPI_NORMALIZATION } from './faceapi-xception';
import { improvesOn, monitoredScore } from './heads';

/**
 * Recipe 'all': face-api's whole age net (TinyXception + its own fc/age regression) trained end to end on the images,
 * at a low learning rate, with augmentation drawn on the fly (flip, crop-scale, colour): no new head, no feature cache.
 */

/** Name of face-api's age output layer in `buildFaceApiXception({ ageHead: true })`. */
export const FACEAPI_AGE_LAYER = 'faceapi_fc_age';

/**
 * Rescale face-api's fc/age (age in years) in place so that the net outputs the task's standardised age
 * ((age - mean) / std: W / std, (b - mean) / std), the output every agekit regression model has; the function of the
 * image it computes is unchanged.
 */
export function standardizeAgeOutput(model: tf.LayersModel, task: Task): void {
  if (task.kind !== 'regression' || !task.targetScale) throw new Error(`face-api's age output regresses the age: the task must be 'regression' (got '${task.kind}')`);
  const { mean, std } = task.targetScale;
  const layer = model.getLayer(FACEAPI_AGE_LAYER);
  const [kernel, bias] = layer.getWeights();
  const scaled = tf.tidy(() => [tf.div(kernel, std), tf.div(tf.sub(bias, mean), std)]);
  layer.setWeights(scaled);
  tf.dispose(scaled);
}

export interface FineTuneWholeOptions {
  /** face-api's age net (`loadFaceApiXception({ ageHead: true })`) with `standardizeAgeOutput` applied; trained in place. */
  model: tf.LayersModel;
  task: Task;
  train: LabelledImages;
  val: LabelledImages;
  epochs: number;
  batchSize: number;
  learningRate: number;
  earlyStoppingPatience: number;
  flip: boolean;
  augmentation: BatchAugmentation;
  /** Keep the fine-tuned weights only if they beat face-api's on validation (default), or always. */
  keep?: 'if-better' | 'always';
  seed: number;
  backend?: string;
  onBatch?: Parameters<typeof fitModel>[0]['onBatch'];
  onEpoch?: (record: EpochRecord) => void;
}

export interface FineTuneWholeResult {
  /** Whether the fine-tuned weights beat face-api's on validation and stay in the model (else it is reset to them). */
  kept: boolean;
  monitor: MonitorMetric;
  /** Validation of face-api's net as published (before) and of the best fine-tuned epoch (after). */
  before: Evaluation;
  after: Evaluation;
  history: EpochRecord[];
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Training seconds (all epochs) and training images per second. */
  seconds: number;
  imagesPerSecond: number;
}

/** Fine-tune face-api's whole age net (every layer, its own age output) on images; kept if validation improves (or `keep` 'always'). */
export async function fineTuneWholeNet(options: FineTuneWholeOptions): Promise<FineTuneWholeResult> {
  const { model, task, val } = options;
  const pretrained = model.getWeights().map((w) => w.clone());
  const before = evaluateModel(model, task, val, { normalization: FACEAPI_NORMALIZATION });
  const fitted = await fitModel({
    architecture: 'faceapi-xception+dense',
    model,
    task,
    size: FACEAPI_INPUT_SIZE,
    channels: 3,
    train: options.train,
    val,
    normalization: FACEAPI_NORMALIZATION,
    epochs: options.epochs,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    schedule: { kind: 'cosine' },
    earlyStoppingPatience: options.earlyStoppingPatience,
    seed: options.seed,
    flip: options.flip,
    augmentation: options.augmentation,
    backend: options.backend,
    onBatch: options.onBatch,
    onEpoch: options.onEpoch,
  });
  const monitor = fitted.monitor;
  const kept = options.keep === 'always' || improvesOn(monitor, monitoredScore(fitted.validation, monitor), monitoredScore(before, monitor));
  if (!kept) model.setWeights(pretrained);
  tf.dispose(pretrained);
  const seconds = fitted.history.reduce((s, r) => s + r.trainSeconds, 0);
  const images = fitted.history.reduce((s, r) => s + r.trainSeconds * r.imagesPerSecond, 0);
  return {
    kept,
    monitor,
    before,
    after: fitted.validation,
    history: fitted.history,
    bestEpoch: fitted.bestEpoch,
    stoppedEarly: fitted.stoppedEarly,
    seconds,
    imagesPerSecond: seconds > 0 ? images / seconds : NaN,
  };
}
