import * as tf from '@tensorflow/tfjs';
import { maxRelativeDifference, type Values as Arr } from '@agekit/synth';
import { createRng } from '@agekit/dataset';
import { initBackend } from './backend';
import { setWasmTrainingFastPaths } from './kernels/registry';
import { swapMatMulOperands } from './kernels/wasm/batch-mat-mul';
import { conv2dFilterGradientIm2col } from './kernels/wasm/conv2d-backprop-filter';
import { conv2dInputGradientCol2im } from './kernels/wasm/conv2d-backprop-input';
import { tileArray } from './kernels/wasm/tile';

/**
 * agekit's speed-only training paths (wasm kernels for Tile/Identity/Cast/Sum/Mean, the FusedBatchNorm and Mean
 * gradients, col2im/im2col conv gradients, operand-swapped matMul) against tfjs's own on the cpu backend, which runs
 * with the fast paths off (tfjs-core's gradients) for every reference.
 */


function randomArray(n: number, seed: string, mean = 0): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => mean + rng.normal());
}

function rand(shape: number[], seed: string, mean = 0): tf.Tensor {
  return tf.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed, mean), shape);
}

/** Run `f` on cpu with tfjs's own gradients (reference), then on wasm with agekit's fast paths; returns both. */
async function cpuThenWasm(f: () => Arr[], checkLeaks = true): Promise<{ reference: Arr[]; fast: Arr[] }> {
  await initBackend({ backend: 'wasm' }); // registers the wasm kernels (once)
  setWasmTrainingFastPaths(false);
  await initBackend({ backend: 'cpu' });
  const reference = f();
  await initBackend({ backend: 'wasm' });
  setWasmTrainingFastPaths(true);
  const before = tf.memory().numTensors;
  const fast = f();
  if (checkLeaks) expect(tf.memory().numTensors).toBe(before);
  return { reference, fast };
}

function expectClose(result: { reference: Arr[]; fast: Arr[] }, tolerance = 1e-4): void {
  expect(result.fast.length).toBe(result.reference.length);
  result.reference.forEach((r, i) => expect(maxRelativeDifference(result.fast[i], r)).toBeLessThanOrEqual(tolerance));
}

describe('fast wasm kernels vs the cpu backend', () => {
  afterAll(async () => {
    await initBackend({ backend: 'wasm' });
    setWasmTrainingFastPaths(true);
    await tf.setBackend('cpu');
  });

  it('tileArray repeats along every axis like tf.tile', () => {
    const src = Int32Array.from({ length: 6 }, (_, i) => i); // [3, 1, 2]
    const out = tileArray(src, [3, 1, 2], [2, 3, 2], new Int32Array(6 * 12));
    const expected = tf.tidy(() => tf.tile(tf.tensor3d(src, [3, 1, 2], 'int32'), [2, 3, 2]).dataSync() as Int32Array);
    expect(Array.from(out)).toEqual(Array.from(expected));
  });

  it('Tile (per-channel vectors to NHWC, general reps, int32 and bool) matches', async () => {
    expectClose(
      await cpuThenWasm(() =>
        tf.tidy(() => [
          tf.tile(rand([1, 1, 1, 5], 'tv'), [3, 4, 6, 1]).dataSync() as Float32Array,
          tf.tile(rand([2, 1, 3], 'tg'), [2, 3, 2]).dataSync() as Float32Array,
          tf.tile(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), [3, 1]).dataSync() as Int32Array,
          tf.tile(tf.tensor1d([true, false], 'bool'), [3]).dataSync() as Uint8Array,
          tf.broadcastTo(rand([1, 1, 4], 'tb'), [3, 2, 4]).dataSync() as Float32Array,
        ]),
      ),
      0,
    );
  });

  it('Sum and Mean over leading axes (the bias and batch-norm reductions) match; other axes still right', async () => {
    expectClose(
      await cpuThenWasm(() =>
        tf.tidy(() => {
          const x = rand([4, 9, 7, 6], 'sx', 0.5);
          return [
            tf.sum(x, [0, 1, 2]),
            tf.mean(x, [0, 1, 2]),
            tf.sum(x, [2, 0, 1], true),
            tf.mean(x, [0, 1], true),
            tf.sum(x, 0),
            tf.mean(x.reshape([252, 6]), 0),
            tf.sum(x, [1, 2]),
            tf.mean(x, -1),
            tf.sum(x),
          ].map((t) => t.dataSync() as Float32Array);
        }),
      ),
    );
    const ints = await cpuThenWasm(() => tf.tidy(() => [tf.sum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), 0).dataSync() as Int32Array]));
    expect(Array.from(ints.fast[0])).toEqual([9, 12]);
  });

  it('Identity and same-dtype Cast share data safely: the copy survives disposing the original', async () => {
    await initBackend({ backend: 'wasm' });
    setWasmTrainingFastPaths(true);
    const before = tf.memory().numTensors;
    const x = tf.tensor1d([1.5, -2, 3]);
    const y = tf.clone(x);
    const z = tf.cast(x, 'float32');
    const i = tf.cast(x, 'int32');
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1.5, -2, 3]);
    expect(Array.from(z.dataSync())).toEqual([1.5, -2, 3]);
    expect(Array.from(i.dataSync())).toEqual([1, -2, 3]);
    expect(i.dtype).toBe('int32');
    tf.dispose([y, z, i]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('matMul with a long inner dimension swaps operands (and still matches) in every transpose combination', async () => {
    expect(swapMatMulOperands([4096, 4], [4096, 16], true, false)).toBe(true);
    expect(swapMatMulOperands([16, 4096], [4096, 4], false, false)).toBe(false);
    expect(swapMatMulOperands([4, 4096], [4096, 16], false, false)).toBe(false); // plain products keep cached weights
    expectClose(
      await cpuThenWasm(() =>
        tf.tidy(() => {
          const a = rand([4096, 4], 'ma') as tf.Tensor2D;
          const b = rand([4096, 16], 'mb') as tf.Tensor2D;
          return [
            tf.matMul(a, b, true, false),
            tf.matMul(a.transpose(), b),
            tf.matMul(a, b.transpose(), true, true),
            tf.matMul(a.transpose(), b.transpose(), false, true),
          ].map((t) => t.dataSync() as Float32Array);
        }),
      ),
    );
  });
});

describe('max-pool gradient (JavaScript window scan) vs the cpu backend', () => {
  for (const [window, stride, pad] of [
    [3, 2, 'valid'],
    [3, 2, 'same'],
    [3, 1, 'same'],
    [2, 2, 'valid'],
  ] as const) {
    it(`${window}x${window}/${stride} ${pad}: negative maxima, all-zero windows and positive ties go where cpu puts them`, async () => {
      expectClose(
        await cpuThenWasm(() =>
          tf.tidy(() => {
            // small integers: many tied maxima, windows of zeros, and windows whose maximum is negative
            const x = tf.round(rand([2, 9, 10, 3], `p${window}${stride}${pad}`).mul(1.5)).sub(tf.tensor1d([0, 1, -1]));
            const r = rand(tf.maxPool(x as tf.Tensor4D, window, stride, pad).shape, 'pr');
            return [tf.grad((xx: tf.Tensor) => tf.maxPool(xx as tf.Tensor4D, window, stride, pad).mul(r).sum())(x).dataSync() as Float32Array];
          }),
        ),
      );
    });
  }
});

describe('col2im / im2col conv gradients vs the cpu backend', () => {
  const cases: { x: [number, number, number, number]; w: [number, number, number, number] }[] = [
    { x: [2, 9, 8, 3], w: [3, 3, 3, 4] },
    { x: [2, 8, 9, 2], w: [2, 4, 2, 5] },
    { x: [3, 7, 7, 4], w: [1, 1, 4, 3] },
  ];
  for (const c of cases) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        it(`${c.w.join('x')} filter on ${c.x.join('x')}, stride ${stride}, ${pad}: dx (col2im) and dW (im2col) within 1e-4`, async () => {
          const run = (composed: boolean): Arr[] =>
            tf.tidy(() => {
              const x = rand(c.x, 'cx') as tf.Tensor4D;
              const w = rand(c.w, 'cw') as tf.Tensor4D;
              const outShape = tf.conv2d(x, w, stride, pad).shape;
              const dy = rand(outShape, 'cdy') as tf.Tensor4D;
              if (composed) {
                return [conv2dInputGradientCol2im(dy, w, c.x, stride, pad), conv2dFilterGradientIm2col(x, dy, c.w, stride, pad)].map((t) => t.dataSync() as Float32Array);
              }
              const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, pad).mul(dy).sum())([x, w]);
              return [dx, dw].map((t) => t.dataSync() as Float32Array);
            });
          await initBackend({ backend: 'cpu' });
          const reference = run(false);
          await initBackend({ backend: 'wasm' });
          const before = tf.memory().numTensors;
          const fast = run(true);
          expect(tf.memory().numTensors).toBe(before);
          expectClose({ reference, fast });
        });
      }
    }
  }
});

describe('batch norm in training mode (FusedBatchNorm and Mean gradients) vs tfjs-core on cpu', () => {
  /** A conv stem as squeezenet's (3x3/2 + BN in training mode + ReLU), then a 1x1 conv with bias; grads of every weight and x. */
  function bnGrads(seed: string): Arr[] {
    return tf.tidy(() => {
      const x = rand([3, 11, 11, 3], `${seed}x`);
      const w1 = rand([3, 3, 3, 6], `${seed}w1`);
      const gamma = rand([6], `${seed}g`, 1);
      const beta = rand([6], `${seed}b`);
      const w2 = rand([1, 1, 6, 4], `${seed}w2`);
      const b2 = rand([4], `${seed}b2`);
      const r = rand([3, 5, 5, 4], `${seed}r`);
      const loss = (xx: tf.Tensor, ww1: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor, ww2: tf.Tensor, bb2: tf.Tensor): tf.Scalar => {
        const h = tf.conv2d(xx as tf.Tensor4D, ww1 as tf.Tensor4D, 2, 'valid');
        const { mean, variance } = tf.moments(h, [0, 1, 2]);
        const n = tf.relu(tf.batchNorm(h, mean, variance, bb as tf.Tensor1D, gg as tf.Tensor1D, 1e-3));
        return tf.conv2d(n as tf.Tensor4D, ww2 as tf.Tensor4D, 1, 'same').add(bb2).mul(r).sum() as tf.Scalar;
      };
      const grads = tf.grads(loss as (...args: tf.Tensor[]) => tf.Tensor)([x, w1, gamma, beta, w2, b2]);
      return grads.map((g) => g.dataSync() as Float32Array);
    });
  }

  it('all gradients of conv -> moments -> batchNorm -> ReLU -> conv match within 1e-4', async () => {
    expectClose(await cpuThenWasm(() => bnGrads('bn')));
  });

  it('the replaced gradients are right on cpu too (they are global): fast vs tfjs-core, same backend', async () => {
    await initBackend({ backend: 'wasm' });
    await initBackend({ backend: 'cpu' });
    setWasmTrainingFastPaths(false);
    const reference = bnGrads('cpu');
    setWasmTrainingFastPaths(true);
    const fast = bnGrads('cpu');
    expectClose({ reference, fast });
  });

  it('batchNorm with [1,1,1,C] statistics (the original gradient path) and Mean over other axes', async () => {
    expectClose(
      await cpuThenWasm(() =>
        tf.tidy(() => {
          const x = rand([2, 5, 4, 3], 'bx', 2);
          // (tfjs-core's own gradient cannot reduce rank-4 statistics that depend on x, so they are constants here)
          const keep = tf.grad((xx: tf.Tensor) =>
            tf.batchNorm(xx, rand([1, 1, 1, 3], 'bm'), rand([1, 1, 1, 3], 'bv', 3).abs(), rand([1, 1, 1, 3], 'bo') as tf.Tensor4D, rand([1, 1, 1, 3], 'bs', 1) as tf.Tensor4D).square().sum(),
          )(x);
          const means = tf.grad((xx: tf.Tensor) => tf.mean(xx, [1, 3]).square().sum().add(tf.mean(xx, -1, true).sum()))(x);
          return [keep, means].map((t) => t.dataSync() as Float32Array);
        }),
      ),
    );
  });

  /** A small SqueezeNet: conv 3x3/2 + BN + ReLU, max-pool 3/2, one fire module (all with BN), conv 1x1, global pool, softmax. */
  function miniSqueezenet(): tf.LayersModel {
    let seed = 11;
    const input = tf.input({ shape: [23, 23, 3] });
    const convBn = (x: tf.SymbolicTensor, filters: number, kernelSize: number, strides = 1, padding: 'same' | 'valid' = 'valid'): tf.SymbolicTensor => {
      const c = tf.layers.conv2d({ filters, kernelSize, strides, padding, useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: seed++ }) }).apply(x) as tf.SymbolicTensor;
      const n = tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-3 }).apply(c) as tf.SymbolicTensor;
      return tf.layers.reLU().apply(n) as tf.SymbolicTensor;
    };
    let x = convBn(input, 8, 3, 2);
    x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2 }).apply(x) as tf.SymbolicTensor;
    const squeeze = convBn(x, 4, 1);
    x = tf.layers.concatenate({ axis: -1 }).apply([convBn(squeeze, 8, 1), convBn(squeeze, 8, 3, 1, 'same')]) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 5, kernelSize: 1, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: seed++ }) }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    const output = tf.layers.activation({ activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: output });
  }

  it('a SqueezeNet-shaped training step (batch norm): every weight gradient and the moving statistics match within 1e-4', async () => {
    const step = (): Arr[] => {
      const model = miniSqueezenet();
      const x = rand([4, 23, 23, 3], 'sqx');
      const y = tf.oneHot(tf.tensor1d([1, 4, 0, 2], 'int32'), 5).cast('float32');
      const { value, grads } = tf.variableGrads(() => {
        const p = model.apply(x, { training: true }) as tf.Tensor;
        return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.clipByValue(p, 1e-7, 1))), 1))) as tf.Scalar;
      });
      const out = [
        ...model.trainableWeights.map((w) => grads[w.name].dataSync() as Float32Array),
        ...model.weights.filter((w) => /moving_(mean|variance)/.test(w.name)).map((w) => w.read().dataSync() as Float32Array),
      ];
      tf.dispose([x, y, value, ...Object.values(grads)]);
      model.dispose();
      return out;
    };
    // (tfjs-layers itself leaves tensors behind per training-mode apply with batch norm, fast paths on or off)
    const { reference, fast } = await cpuThenWasm(step, false);
    expect(reference.length).toBe(4 * 3 + 2 + 4 * 2); // 4 conv+BN (kernel, gamma, beta), the last conv (kernel, bias), 4 x 2 moving statistics
    expectClose({ reference, fast });
  });

  it('switching the fast paths off restores tfjs kernels and gradients, and on re-installs them', async () => {
    await initBackend({ backend: 'wasm' });
    const fastTile = tf.getKernel('Tile', 'wasm');
    const fastGrad = tf.getGradient('FusedBatchNorm');
    expect(setWasmTrainingFastPaths(false)).toEqual(expect.arrayContaining(['Tile', 'Sum', 'Mean', 'Identity', 'Cast']));
    expect(tf.getKernel('Tile', 'wasm')).not.toBe(fastTile);
    expect(tf.getGradient('FusedBatchNorm')).not.toBe(fastGrad);
    expect(setWasmTrainingFastPaths(true)).toEqual(expect.arrayContaining(['Tile', 'FusedBatchNorm gradient', 'Mean gradient']));
    expect(tf.getKernel('Tile', 'wasm')).toBe(fastTile);
  });
});
