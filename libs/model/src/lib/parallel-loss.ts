import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { isClassification, type Task } from './tasks';

/**
 * Label-distribution learning for classification over ages (DLDL-v2, Gao et al. 2018): the target of an item is a
 * Gaussian N(true age, sigma) over the classes' representative ages, normalised to sum to 1, instead of a one-hot
 * class; the loss is the cross-entropy to it plus `expectationWeight` x |expected age - true age| (years).
 */
export interface LabelDistribution {
  /** Standard deviation of the soft target, in years (DLDL-v2 uses about 2). */
  sigma: number;
  /** Weight of the L1 term on the expected age, in years (default 1; 0 = soft targets only). */
  expectationWeight?: number;
}

/** What the training loss is made of; the same spec gives the same loss in the main thread and in every worker. */
export interface LossSpec {
  classification: boolean;
  /** Number of classes (classification). */
  classes: number;
  /** Cross-entropy weight of each class (classification; absent = unweighted). */
  classWeights?: number[];
  /** Regression loss on standardised ages. */
  regressionLoss: 'l1' | 'l2';
  /** L2 penalty on kernels (0 = none). */
  l2: number;
  /** Which kernels the L2 penalty covers: every trainable conv/dense kernel (default) or the Dense layers' only. */
  l2Layers?: 'all' | 'dense';
  /** Classification: soft Gaussian targets + L1 on the expected age instead of one-hot cross-entropy (absent = off). */
  labelDistribution?: LabelDistributionLoss;
  /**
   * Classification with `labelDistribution`: the targets are ages in years (e.g. distilled from teachers), each the
   * centre of its soft target and of the L1 term, instead of class indices (default false).
   */
  ageTargets?: boolean;
}

/** A LabelDistribution resolved against a task: each class's representative age, sigma, the expectation weight. */
export interface LabelDistributionLoss {
  ages: number[];
  sigma: number;
  expectationWeight: number;
}

/** Resolve the option for `task` (undefined when off); throws when the task has no ages to spread the target over. */
export function labelDistributionLoss(task: Task, option: LabelDistribution | undefined): LabelDistributionLoss | undefined {
  if (option === undefined) return undefined;
  if (!isClassification(task)) throw new Error('labelDistribution: needs a classification task (got regression)');
  if (!task.representativeAges.every(Number.isFinite)) throw new Error(`labelDistribution: every class of the ${task.kind} task needs a representative age`);
  if (!(option.sigma > 0)) throw new Error(`labelDistribution: sigma must be > 0 (got ${option.sigma})`);
  const expectationWeight = option.expectationWeight ?? 1;
  if (!(expectationWeight >= 0)) throw new Error(`labelDistribution: expectationWeight must be >= 0 (got ${expectationWeight})`);
  return { ages: [...task.representativeAges], sigma: option.sigma, expectationWeight };
}

/** The soft target of true age `age`: exp(-(a_k - age)^2 / (2 sigma^2)) over the class ages a_k, normalised to sum 1. */
export function softTargets(ages: readonly number[], sigma: number, age: number): number[] {
  const density = ages.map((a) => Math.exp(-((a - age) ** 2) / (2 * sigma * sigma)));
  const total = density.reduce((s, v) => s + v, 0);
  return density.map((v) => v / total);
}

/** A training loss bound to one model: mean over the batch (optionally class-weighted) plus the L2 penalty. */
export interface BoundLoss {
  (x: tf.Tensor, y: tf.Tensor): tf.Scalar;
  dispose(): void;
}

/** The kernels the L2 penalty covers. */
function kernelsOf(model: tf.LayersModel, which: 'all' | 'dense'): tf.Tensor[] {
  const layers = which === 'dense' ? model.layers.filter((l) => l.getClassName() === 'Dense') : model.layers;
  return layers.flatMap((l) => l.trainableWeights).filter((w) => /kernel$/.test(w.originalName ?? w.name)).map((w) => w.read());
}

/**
 * The training loss of `model`: cross-entropy (class-weighted when `classWeights` is given) for classification, to the
 * one-hot class or, with `labelDistribution`, to the soft target of the class's age plus the weighted L1 of the expected
 * age; L1/L2 on standardised ages for regression; each a mean over the batch, plus `l2 * sum(kernel^2)`. Because the data
 * term is a mean, the gradient of a batch is the size-weighted mean of its shards' gradients (data parallelism).
 */
export function createLoss(model: tf.LayersModel, spec: LossSpec): BoundLoss {
  const kernels = kernelsOf(model, spec.l2Layers ?? 'all');
  const weightTensor = spec.classWeights ? tf.tensor1d(spec.classWeights) : undefined;
  const distribution = spec.labelDistribution;
  const agesVector = distribution ? tf.tensor1d(distribution.ages) : undefined;
  const agesRow = distribution ? tf.tensor2d(distribution.ages, [1, distribution.ages.length]) : undefined;
  const ageTargets = spec.ageTargets === true;
  if (ageTargets && !distribution) throw new Error('loss: age targets need labelDistribution (a classification task) or a regression task');
  if (ageTargets && weightTensor) throw new Error('loss: class weights need class-index targets, not ages');
  const loss = ((x: tf.Tensor, y: tf.Tensor): tf.Scalar => {
    const out = model.apply(x, { training: true }) as tf.Tensor2D;
    let value: tf.Scalar;
    if (spec.classification) {
      let target: tf.Tensor;
      let perItem: tf.Tensor;
      if (distribution && agesVector && agesRow) {
        // the soft target (see softTargets) around each item's age: its class's representative age, or the age itself
        const age = (ageTargets ? y : tf.gather(agesVector, y as tf.Tensor1D)).reshape([-1, 1]);
        const density = tf.exp(tf.div(tf.neg(tf.square(tf.sub(agesRow, age))), 2 * distribution.sigma * distribution.sigma));
        target = tf.div(density, tf.sum(density, 1, true));
        perItem = tf.neg(tf.sum(tf.mul(target, tf.log(tf.clipByValue(out, 1e-7, 1))), 1));
        if (distribution.expectationWeight > 0) {
          const expected = tf.matMul(out, agesRow.reshape([-1, 1])).reshape([-1]);
          perItem = tf.add(perItem, tf.mul(distribution.expectationWeight, tf.abs(tf.sub(expected, age.reshape([-1])))));
        }
      } else {
        target = tf.oneHot(y as tf.Tensor1D, spec.classes);
        perItem = tf.neg(tf.sum(tf.mul(target, tf.log(tf.clipByValue(out, 1e-7, 1))), 1));
      }
      value = weightTensor ? tf.mean(tf.mul(perItem, tf.gather(weightTensor, y as tf.Tensor1D))) : tf.mean(perItem);
    } else {
      const diff = tf.sub(out.reshape([-1]), y);
      value = spec.regressionLoss === 'l2' ? tf.mean(tf.square(diff)) : tf.mean(tf.abs(diff));
    }
    if (spec.l2 > 0 && kernels.length > 0) value = tf.add(value, tf.mul(spec.l2, tf.addN(kernels.map((k) => tf.sum(tf.square(k)))))) as tf.Scalar;
    return value;
  }) as BoundLoss;
  loss.dispose = () => {
    for (const t of [weightTensor, agesVector, agesRow]) t?.dispose();
  };
  return loss;
}

/** Set the seed of every Dropout layer (tfjs draws a layer's mask from its seed). */
export function seedDropout(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) if (layer.getClassName() === 'Dropout') (layer as unknown as { seed?: number }).seed = seed;
}

/**
 * CPU time (user + system, ms) the calling thread has used so far, from Linux's /proc/thread-self/stat (10 ms
 * resolution); NaN elsewhere. For benchmarks on a shared machine, where wall-clock speed-ups from threads mean little.
 */
export function threadCpuMs(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state (field 3); utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** Labels of a shard as the tensor the loss of `spec` expects: int32 class indices, or float ages (standardised for regression). */
export function targetTensor(targets: ArrayLike<number>, spec: Pick<LossSpec, 'classification' | 'ageTargets'>): tf.Tensor1D {
  return spec.classification && spec.ageTargets !== true ? tf.tensor1d(Array.from(targets), 'int32') : tf.tensor1d(Array.from(targets));
}
