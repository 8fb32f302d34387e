import * as tf from '@tensorflow/tfjs';
import { NATIVE_BATCH_NORM_TRAIN_KERNEL } from './kernels/native/batch-norm-train';
import { NATIVE_BATCH_NORM_TRAIN_GRAD_KERNEL } from './kernels/native/batch-norm-train-grad';

/**
 * Batch norm in training as one op: per-channel (last axis) mean and biased variance over every other axis, and
 * y = gamma (x - mean) / sqrt(var + eps) + beta; its gradient dbeta = sum dy, dgamma = sum dy * xhat,
 * dx = gamma / sqrt(var + eps) * (dy - dbeta / M - xhat * dgamma / M) (M = elements per channel).
 * tfjs-layers composes it from ~12 full-tensor kernels (tf.moments, batchNorm and their gradients); here it is two
 * native passes forward and two backward where the native kernels are on (wasm + libs/runtime/native), else tfjs ops
 * (forward: tf.moments + tf.batchNorm, exactly tfjs-layers' arithmetic; backward: the formula above).
 */

/** Set to 1 to make FusedBatchNormalization train with tfjs-layers' own (unfused) code, for A/B benchmarks. */
export const FUSED_BATCH_NORM_DISABLE_ENV = 'AGEKIT_NO_FUSED_BN';

/** Result of batchNormTraining: the output and the batch statistics (mean, biased variance), [C] each. */
export interface BatchNormTrainingResult {
  y: tf.Tensor;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
}

function nativeOn(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

function leadingAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i);
}

/** dx, dgamma, dbeta from tfjs ops (the fallback of the native gradient). */
function gradientFromOps(dy: tf.Tensor, x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, gamma: tf.Tensor, epsilon: number): tf.Tensor[] {
  return tf.tidy(() => {
    const axes = leadingAxes(x.rank);
    const m = x.size / x.shape[x.rank - 1];
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const xHat = tf.mul(tf.sub(x, mean), invStd);
    const dbeta = tf.sum(dy, axes);
    const dgamma = tf.sum(tf.mul(dy, xHat), axes);
    const inner = tf.sub(tf.sub(dy, tf.div(dbeta, m)), tf.mul(xHat, tf.div(dgamma, m)));
    const dx = tf.mul(inner, tf.mul(gamma, invStd));
    return [dx, dgamma, dbeta];
  });
}

/**
 * Batch norm in training over the last axis of `x` (rank >= 2, float32) with per-channel gamma and beta ([C]):
 * the output (differentiable wrt x, gamma and beta, by the fused gradient) and the batch mean and biased variance
 * (not differentiable; for the moving averages). The caller owns (disposes) all three.
 */
export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon = 1e-3): BatchNormTrainingResult {
  if (x.rank < 2 || x.dtype !== 'float32') throw new Error(`batchNormTraining: a float32 tensor of rank >= 2 expected (got ${x.dtype} of rank ${x.rank})`);
  const c = x.shape[x.rank - 1];
  if (gamma.size !== c || beta.size !== c) throw new Error(`batchNormTraining: gamma and beta need ${c} values (got ${gamma.size}, ${beta.size})`);
  let stats: [tf.Tensor1D, tf.Tensor1D] | undefined;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    let y: tf.Tensor;
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    if (nativeOn(NATIVE_BATCH_NORM_TRAIN_KERNEL)) {
      [y, mean, variance] = tf.engine().runKernel(NATIVE_BATCH_NORM_TRAIN_KERNEL, { x: xi, gamma: g, beta: b }, { epsilon }) as tf.Tensor[];
    } else {
      const moments = tf.moments(xi, leadingAxes(xi.rank));
      mean = moments.mean;
      variance = moments.variance;
      y = tf.batchNorm(xi, mean as tf.Tensor1D, variance as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, epsilon);
    }
    // customGrad runs this function in a tidy: keep the statistics for the caller
    stats = [tf.keep(mean as tf.Tensor1D), tf.keep(variance as tf.Tensor1D)];
    save([xi, g, mean, variance]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg, sm, sv] = saved;
        if (nativeOn(NATIVE_BATCH_NORM_TRAIN_GRAD_KERNEL) && dy.dtype === 'float32') {
          return tf.engine().runKernel(NATIVE_BATCH_NORM_TRAIN_GRAD_KERNEL, { dy, x: sx, mean: sm, variance: sv, gamma: sg }, { epsilon }) as tf.Tensor[];
        }
        return gradientFromOps(dy, sx, sm, sv, sg, epsilon);
      },
    };
  });
  const y = op(x, gamma, beta);
  if (!stats) throw new Error('batchNormTraining: the forward pass did not run');
  return { y, mean: stats[0], variance: stats[1] };
}

type StockBatchNormalization = ReturnType<typeof tf.layers.batchNormalization>;
/** Options of tf.layers.batchNormalization. */
export type BatchNormalizationOptions = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;
type StockConstructor = (new (args?: BatchNormalizationOptions) => StockBatchNormalization) & { className: string };

/** tfjs-layers' BatchNormalization class (not exported by @tensorflow/tfjs under a name; taken from its factory). */
const Stock = tf.layers.batchNormalization({}).constructor as StockConstructor;

/** Private fields of tfjs-layers' BatchNormalization this layer reads (names as in normalization.js). */
interface StockInternals {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

type CallArgs = Parameters<StockBatchNormalization['call']>;

/**
 * tfjs-layers' BatchNormalization whose training-mode call runs batchNormTraining (one fused op) and updates the
 * moving mean and variance exactly as tfjs-layers does (moving -= (moving - batch) * (1 - momentum), with the
 * biased batch variance). Inference, normalisation over another axis than the last, no center/scale, or a
 * non-float32 input: tfjs-layers' own call. Same class name, config and weights: a saved model is unchanged and
 * loads as stock tfjs (registerFusedBatchNormalization makes loading in agekit give this class).
 */
export class FusedBatchNormalization extends Stock {
  static override className = 'BatchNormalization';

  override call(inputs: CallArgs[0], kwargs: CallArgs[1]): tf.Tensor | tf.Tensor[] {
    const training = kwargs['training'] === true;
    const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const self = this as unknown as StockInternals;
    const rank = input?.rank ?? 0;
    const lastAxis = self.axis === -1 || self.axis === rank - 1;
    if (!training || process.env[FUSED_BATCH_NORM_DISABLE_ENV] === '1' || !input || rank < 2 || !lastAxis || input.dtype !== 'float32' || !self.center || !self.scale || !self.gamma || !self.beta) {
      return super.call(inputs, kwargs);
    }
    const gamma = self.gamma;
    const beta = self.beta;
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormTraining(input, gamma.read() as tf.Tensor1D, beta.read() as tf.Tensor1D, self.epsilon);
      const decay = 1 - self.momentum;
      for (const [variable, value] of [
        [self.movingMean, mean],
        [self.movingVariance, variance],
      ] as const) {
        tf.tidy(() => {
          const orig = variable.read();
          variable.write(tf.sub(orig, tf.mul(tf.sub(orig, value), decay)));
        });
      }
      mean.dispose();
      variance.dispose();
      return y;
    });
  }
}

/** tf.layers.batchNormalization with the fused training op (saved and loaded as 'BatchNormalization'). */
export function fusedBatchNormalization(options: BatchNormalizationOptions = {}): FusedBatchNormalization {
  return new FusedBatchNormalization(options);
}

let registered = false;

/**
 * Make tfjs deserialise 'BatchNormalization' layers (tf.loadLayersModel, tf.models.modelFromJSON, agekit's loadModel)
 * as FusedBatchNormalization; idempotent. Done when this module loads (@agekit/runtime's index imports it), so models loaded
 * for transfer learning train with the fused op too. Predictions are the same either way.
 */
export function registerFusedBatchNormalization(): void {
  if (registered) return;
  tf.serialization.registerClass(FusedBatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  registered = true;
}

registerFusedBatchNormalization();
