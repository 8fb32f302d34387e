import * as tf from '@tensorflow/tfjs';

/**
 * Gradient functions that replace tfjs-core's for speed. tf.registerGradient is global (every backend), so each one
 * computes exactly the same mathematics as the one it replaces and hands shapes it does not handle back to the original.
 * `installFastGradients` / `restoreOriginalGradients` switch between them (the wasm kernel set installs them).
 */

type GradConfig = NonNullable<ReturnType<typeof tf.getGradient>>;
type SavedTensors = tf.Tensor[];
type GradResult = Record<string, () => tf.Tensor>;

/** Leading axes [0, rank-1) over which a per-channel (last-axis) vector was broadcast. */
function leadingAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i);
}

/**
 * FusedBatchNorm's gradient with a per-channel ([C]) mean: tfjs-core tiles 1/sqrt(var + eps) to the whole NHWC shape
 * (wasm's Tile kernel is very slow) and makes about nine full-size passes plus four reductions. This one broadcasts
 * and shares work: with r = 1/sqrt(var + eps), g = scale (or 1), xm = x - mean, S1 = sum(dy), S2 = sum(dy * xm)
 * over all but the channel axis:
 *   dx = dy * (g r),  dMean = -g r S1,  dVar = -g r^3 S2 / 2,  dScale = r S2,  dOffset = S1.
 * Other mean shapes go to `original`.
 */
export function fusedBatchNormGradient(original: GradConfig): GradConfig {
  return {
    kernelName: 'FusedBatchNorm',
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: SavedTensors, attrs: tf.NamedAttrMap): GradResult => {
      const [x, mean, variance, scale] = saved;
      const g = Array.isArray(dy) ? dy[0] : dy;
      const channels = x.shape[x.rank - 1];
      const perChannel = mean.rank === 1 && variance.rank === 1 && mean.shape[0] === channels && x.rank >= 2 && (scale == null || (scale.rank === 1 && scale.shape[0] === channels));
      if (!perChannel) return original.gradFunc(dy, saved, attrs) as GradResult;
      const eps = (attrs as unknown as { varianceEpsilon: number }).varianceEpsilon;
      const axes = leadingAxes(x.rank);
      const r = tf.rsqrt(tf.add(variance, tf.scalar(eps)));
      const gr = scale == null ? r : tf.mul(r, scale);
      const xm = tf.sub(x, mean);
      const s1 = tf.sum(g, axes);
      const s2 = tf.sum(tf.mul(g, xm), axes);
      return {
        x: () => tf.mul(g, gr),
        mean: () => tf.neg(tf.mul(gr, s1)),
        variance: () => tf.mul(tf.mul(tf.mul(gr, tf.square(r)), s2), tf.scalar(-0.5)),
        scale: () => tf.mul(r, s2),
        offset: () => tf.clone(s1),
      };
    },
  };
}

/**
 * Mean's gradient: tfjs-core multiplies dy by a full-size ones tensor and then divides (three full-size passes);
 * this divides the small dy first and broadcasts it once (a Tile, fast with agekit's wasm kernel).
 */
export function meanGradient(): GradConfig {
  return {
    kernelName: 'Mean',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: SavedTensors, attrs: tf.NamedAttrMap): GradResult => {
      const [x] = saved;
      const g = Array.isArray(dy) ? dy[0] : dy;
      const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape);
      const expanded = x.shape.slice();
      let reduceSize = 1;
      for (const a of axes) {
        reduceSize *= x.shape[a];
        expanded[a] = 1;
      }
      return { x: () => tf.broadcastTo(tf.div(tf.reshape(g, expanded), tf.scalar(reduceSize)), x.shape) };
    },
  };
}

const originals = new Map<string, GradConfig>();
let installed = false;

/** Register agekit's gradients (FusedBatchNorm, Mean) globally; idempotent. Returns the kernel names replaced. */
export function installFastGradients(): string[] {
  if (installed) return ['FusedBatchNorm', 'Mean'];
  for (const name of ['FusedBatchNorm', 'Mean']) {
    const g = tf.getGradient(name);
    if (!g) throw new Error(`tfjs has no gradient for ${name} to replace`);
    if (!originals.has(name)) originals.set(name, g);
  }
  const fbn = originals.get('FusedBatchNorm') as GradConfig;
  tf.registerGradient(fusedBatchNormGradient(fbn));
  tf.registerGradient(meanGradient());
  installed = true;
  return ['FusedBatchNorm', 'Mean'];
}

/** Put tfjs-core's own gradients back (for A/B measurements and tests). */
export function restoreOriginalGradients(): void {
  for (const g of originals.values()) tf.registerGradient(g);
  installed = false;
}
