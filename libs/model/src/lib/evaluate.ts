import * as tf from '@tensorflow/tfjs';
import type { ImageSet, Normalization } from './images';
import { normalizeBatch } from './images';
import { accuracy, argMax, confusionMatrix, cumulativeScore, macroAucOvr, maeByAgeBand, meanAbsoluteError, type BandError } from './metrics';
import { expectedAge, isClassification, outputToAge, type Task } from './tasks';

/** Images with their targets: class indices (classification) or standardised ages (regression), and true ages. */
export interface LabelledImages {
  images: Pick<ImageSet, 'size' | 'channels' | 'pixels'>;
  /** Per image: class index or standardised age. */
  targets: number[];
  /** Per image: age in years (NaN when only a group label is known). */
  ages: number[];
}

export interface Evaluation {
  count: number;
  /** Cross-entropy (classification) or the regression loss on standardised ages. */
  loss: number;
  /** Macro one-vs-rest AUC (classification; NaN otherwise or when no class can be scored). */
  auc: number;
  /** Arg-max accuracy (classification; NaN for regression). */
  accuracy: number;
  /** MAE of the expected age (classification) or the regressed age, in years. */
  mae: number;
  /** CS(5): share of images with |age error| <= 5 years. */
  cs5: number;
  /** Per-image predicted age, years. */
  predictedAges: number[];
  /** Per-image arg-max class (classification). */
  predictedClasses: number[];
  /** Rows = true class, columns = predicted (classification; empty for regression). */
  confusion: number[][];
  /** MAE per true-age band. */
  bands: BandError[];
}

/**
 * Run the model (inference mode) over normalised batches; returns one output row per image. With `flip` (test-time
 * flip), each row is the mean of the outputs for the image and for its left-right mirror.
 */
export function predictOutputs(model: tf.LayersModel, images: Pick<ImageSet, 'size' | 'channels' | 'pixels'>, normalization: Normalization, batchSize = 64, flip = false): number[][] {
  const per = images.size * images.size * images.channels;
  const count = images.pixels.length / per;
  const rows: number[][] = [];
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const indices = Array.from({ length: n }, (_, i) => start + i);
    const data = normalizeBatch(images, indices, normalization);
    const out = tf.tidy(() => {
      const x = tf.tensor4d(data, [n, images.size, images.size, images.channels]);
      const y = model.predict(x) as tf.Tensor;
      return flip ? tf.div(tf.add(y, model.predict(tf.reverse(x, 2)) as tf.Tensor), 2) : y;
    });
    const values = out.dataSync();
    const width = out.shape[1] ?? 1;
    out.dispose();
    for (let i = 0; i < n; i++) rows.push(Array.from(values.subarray(i * width, (i + 1) * width)));
  }
  return rows;
}

export interface EvaluateOptions {
  normalization: Normalization;
  batchSize?: number;
  regressionLoss?: 'l1' | 'l2';
  /** Age-band lower edges for per-band MAE (default every 10 years). */
  bandEdges?: number[];
  /** Test-time flip: score the mean output of each image and its mirror (see `predictOutputs`). */
  flip?: boolean;
}

/** Score a model on labelled images: loss, macro AUC, accuracy, MAE, CS(5), confusion matrix, per-band MAE. */
export function evaluateModel(model: tf.LayersModel, task: Task, data: LabelledImages, options: EvaluateOptions): Evaluation {
  const outputs = predictOutputs(model, data.images, options.normalization, options.batchSize, options.flip);
  return scoreOutputs(task, outputs, data, options);
}

/** The metrics of `evaluateModel` from already computed outputs. */
export function scoreOutputs(task: Task, outputs: number[][], data: Pick<LabelledImages, 'targets' | 'ages'>, options: Pick<EvaluateOptions, 'regressionLoss' | 'bandEdges'> = {}): Evaluation {
  const count = outputs.length;
  const bands = (ages: number[]): BandError[] => maeByAgeBand(data.ages, ages, options.bandEdges);
  if (isClassification(task)) {
    const classes = task.labels.length;
    const predictedClasses = outputs.map(argMax);
    const predictedAges = outputs.map((p) => expectedAge(task, p));
    let loss = 0;
    for (let i = 0; i < count; i++) loss -= Math.log(Math.max(outputs[i][data.targets[i]] ?? 0, 1e-7));
    return {
      count,
      loss: count ? loss / count : NaN,
      auc: macroAucOvr(data.targets, outputs, classes).auc,
      accuracy: accuracy(data.targets, predictedClasses),
      mae: meanAbsoluteError(data.ages, predictedAges),
      cs5: cumulativeScore(data.ages, predictedAges, 5),
      predictedAges,
      predictedClasses,
      confusion: confusionMatrix(data.targets, predictedClasses, classes),
      bands: bands(predictedAges),
    };
  }
  const predictedAges = outputs.map((o) => outputToAge(task, o[0]));
  let loss = 0;
  for (let i = 0; i < count; i++) {
    const d = outputs[i][0] - data.targets[i];
    loss += options.regressionLoss === 'l2' ? d * d : Math.abs(d);
  }
  return {
    count,
    loss: count ? loss / count : NaN,
    auc: NaN,
    accuracy: NaN,
    mae: meanAbsoluteError(data.ages, predictedAges),
    cs5: cumulativeScore(data.ages, predictedAges, 5),
    predictedAges,
    predictedClasses: [],
    confusion: [],
    bands: bands(predictedAges),
  };
}
