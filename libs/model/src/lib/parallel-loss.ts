import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

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
 * The training loss of `model`: cross-entropy (class-weighted when `classWeights` is given) for classification,
 * L1/L2 on standardised ages for regression, both a mean over the batch, plus `l2 * sum(kernel^2)`. Because the data
 * term is a mean, the gradient of a batch is the size-weighted mean of its shards' gradients (data parallelism).
 */
export function createLoss(model: tf.LayersModel, spec: LossSpec): BoundLoss {
  const kernels = kernelsOf(model, spec.l2Layers ?? 'all');
  const weightTensor = spec.classWeights ? tf.tensor1d(spec.classWeights) : undefined;
  const loss = ((x: tf.Tensor, y: tf.Tensor): tf.Scalar => {
    const out = model.apply(x, { training: true }) as tf.Tensor2D;
    let value: tf.Scalar;
    if (spec.classification) {
      const oneHot = tf.oneHot(y as tf.Tensor1D, spec.classes);
      const perItem = tf.neg(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(out, 1e-7, 1))), 1));
      value = weightTensor ? tf.mean(tf.mul(perItem, tf.gather(weightTensor, y as tf.Tensor1D))) : tf.mean(perItem);
    } else {
      const diff = tf.sub(out.reshape([-1]), y);
      value = spec.regressionLoss === 'l2' ? tf.mean(tf.square(diff)) : tf.mean(tf.abs(diff));
    }
    if (spec.l2 > 0 && kernels.length > 0) value = tf.add(value, tf.mul(spec.l2, tf.addN(kernels.map((k) => tf.sum(tf.square(k)))))) as tf.Scalar;
    return value;
  }) as BoundLoss;
  loss.dispose = () => weightTensor?.dispose();
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

/** Labels of a shard as the tensor the loss expects (int32 class indices or float standardised ages). */
export function targetTensor(targets: ArrayLike<number>, classification: boolean): tf.Tensor1D {
  return classification ? tf.tensor1d(Array.from(targets), 'int32') : tf.tensor1d(Array.from(targets));
}
