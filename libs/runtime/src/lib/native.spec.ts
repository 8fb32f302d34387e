import * as tf from '@tensorflow/tfjs';
import { createRng } from '@agekit/dataset';
import { initBackend, type BackendInfo } from './backend';
import { maxRelativeDifference } from '@agekit/synth';
import { createAdam } from './adam';
import { NATIVE_RELU_GRAD_KERNEL } from './kernels/native/relu-grad';
import { loadNativeKernels, NATIVE_KERNELS_DISABLE_ENV, nativeKernelsUnavailableReason, type NativeCallCounts, type NativeKernels } from './native-addon';

/**
 * The native oneDNN kernels (libs/runtime/native) on the wasm backend against the pure-JS cpu backend. The addon must be
 * built (`node tools/scripts/build-native.mjs runtime`): without it these tests fail, unless AGEKIT_NO_NATIVE=1, when
 * the same comparisons check the wasm kernels the native ones fall back to (and the test names say so).
 */

const disabled = process.env[NATIVE_KERNELS_DISABLE_ENV] === '1';
const suffix = disabled ? ` (native kernels disabled by ${NATIVE_KERNELS_DISABLE_ENV}=1: wasm fallback checked)` : '';

function randomArray(n: number, seed: string, mean = 0): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => mean + rng.normal());
}

function rand(shape: number[], seed: string, mean = 0): tf.Tensor {
  return tf.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed, mean), shape);
}

type Arrays = Float32Array[];

/** Run f on cpu (the reference), then on wasm (native kernels on unless disabled); checks wasm leaks no tensors. */
async function cpuThenWasm(f: () => Arrays): Promise<{ reference: Arrays; ours: Arrays; info: BackendInfo }> {
  await initBackend({ backend: 'cpu' });
  const reference = f();
  const info = await initBackend({ backend: 'wasm' });
  const before = tf.memory().numTensors;
  const ours = f();
  expect(tf.memory().numTensors).toBe(before);
  return { reference, ours, info };
}

function expectClose(r: { reference: Arrays; ours: Arrays }, tolerance = 1e-4): void {
  expect(r.ours.length).toBe(r.reference.length);
  r.reference.forEach((ref, i) => expect(maxRelativeDifference(r.ours[i], ref)).toBeLessThanOrEqual(tolerance));
}

const NO_CALLS: NativeCallCounts = { forward: 0, backwardData: 0, backwardWeights: 0, maxPoolGrad: 0, reluGrad: 0, copyColumns: 0, batchNorm: 0, columnSum: 0, binary: 0, adam: 0, batchNormTrain: 0, batchNormTrainGrad: 0 };

/** Calls made so far by each native kernel in this thread (0s when disabled). */
function calls(native: NativeKernels | undefined): NativeCallCounts {
  return native?.callCounts() ?? NO_CALLS;
}

/** Expect the native kernels `kinds` to have run since `before` (or, when disabled, that none ran). */
function expectNativeRan(native: NativeKernels | undefined, before: NativeCallCounts, kinds: (keyof NativeCallCounts)[]): void {
  const after = calls(native);
  for (const k of kinds) {
    if (disabled) expect(after[k]).toBe(0);
    else expect(after[k]).toBeGreaterThan(before[k]);
  }
}

describe(`native oneDNN kernels on wasm vs the cpu backend${suffix}`, () => {
  let native: NativeKernels | undefined;

  beforeAll(async () => {
    native = loadNativeKernels();
    await initBackend({ backend: 'wasm' });
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it(disabled ? `wasm reports no native kernels and why${suffix}` : 'the addon is built and the wasm backend uses it', async () => {
    const info = await initBackend({ backend: 'wasm' });
    if (disabled) {
      expect(native).toBeUndefined();
      expect(info.native).toBeUndefined();
      expect(info.nativeUnavailable).toContain(NATIVE_KERNELS_DISABLE_ENV);
      return;
    }
    if (!native) throw new Error(`the native kernels did not load: ${nativeKernelsUnavailableReason() ?? 'unknown reason'} (set ${NATIVE_KERNELS_DISABLE_ENV}=1 to test without them)`);
    expect(info.native?.library).toMatch(/^oneDNN \d+\.\d+\.\d+$/);
    expect(info.native?.kernels).toEqual(expect.arrayContaining(['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'MaxPoolGrad', 'Concat', 'SplitV']));
    expect(info.reason).toContain(`native ${info.native?.library} kernels (${info.native?.threads} thread`);
  });

  const shapes: { name: string; x: [number, number, number, number]; w: [number, number, number, number] }[] = [
    { name: '3x3, 3 -> 5 channels, batch 3', x: [3, 9, 8, 3], w: [3, 3, 3, 5] },
    { name: '1x1, 7 -> 4 channels, batch 1', x: [1, 7, 6, 7], w: [1, 1, 7, 4] },
    { name: '3x3, 5 -> 7 channels, batch 1', x: [1, 8, 9, 5], w: [3, 3, 5, 7] },
    { name: '1x1, 4 -> 9 channels, batch 3', x: [3, 6, 7, 4], w: [1, 1, 4, 9] },
  ];
  for (const s of shapes) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        it(`conv ${s.name}, stride ${stride}, ${pad}: y, dx and dw within 1e-4${suffix}`, async () => {
          const seed = `${s.name}${stride}${pad}`;
          const before = calls(native);
          const r = await cpuThenWasm(() =>
            tf.tidy(() => {
              const x = rand(s.x, seed + 'x') as tf.Tensor4D;
              const w = rand(s.w, seed + 'w') as tf.Tensor4D;
              const y = tf.conv2d(x, w, stride, pad);
              const g = rand(y.shape, seed + 'g');
              const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, pad).mul(g).sum())([x, w]);
              return [y, dx, dw].map((t) => t.dataSync() as Float32Array);
            }),
          );
          expectClose(r);
          expectNativeRan(native, before, ['forward', 'backwardData', 'backwardWeights']);
        });
      }
    }
  }

  for (const activation of ['relu', 'linear'] as const) {
    for (const withBias of [true, false]) {
      it(`fused conv (${withBias ? 'bias' : 'no bias'}, ${activation}) 3x3 stride 2 same and 1x1 valid, inference: within 1e-4${suffix}`, async () => {
        const before = calls(native);
        const r = await cpuThenWasm(() =>
          tf.tidy(() => {
            const x = rand([3, 9, 10, 5], 'fx') as tf.Tensor4D;
            const out: Float32Array[] = [];
            for (const [k, stride, pad] of [
              [3, 2, 'same'],
              [1, 1, 'valid'],
            ] as const) {
              const filter = rand([k, k, 5, 7], `fw${k}`) as tf.Tensor4D;
              const bias = withBias ? (rand([7], 'fb') as tf.Tensor1D) : undefined;
              out.push(tf.fused.conv2d({ x, filter, strides: stride, pad, bias, activation }).dataSync() as Float32Array);
            }
            return out;
          }),
        );
        expectClose(r);
        if (activation === 'relu') expect(r.ours.some((a) => a.some((v) => v === 0))).toBe(true);
        expectNativeRan(native, before, ['forward']);
        if (!disabled) {
          const fused = native?.primitives().filter((p) => p.kind === 'forward' && p.relu === (activation === 'relu') && p.bias === withBias && p.calls > 0) ?? [];
          expect(fused.length).toBeGreaterThan(0);
        }
      });
    }
  }

  it(`cases the native kernels leave alone (dilation 2, a prelu activation) give the wasm kernels' results${suffix}`, async () => {
    const r = await cpuThenWasm(() =>
      tf.tidy(() => {
        const x = rand([2, 9, 9, 3], 'dx') as tf.Tensor4D;
        const w = rand([3, 3, 3, 4], 'dw') as tf.Tensor4D;
        const dilated = tf.conv2d(x, w, 1, 'same', 'NHWC', 2);
        const prelu = tf.fused.conv2d({ x, filter: w, pad: 'valid', strides: 1, activation: 'prelu', preluActivationWeights: tf.scalar(0.2) });
        return [dilated, prelu].map((t) => t.dataSync() as Float32Array);
      }),
    );
    expectClose(r);
  });

  for (const [window, stride, pad] of [
    [3, 2, 'valid'],
    [3, 2, 'same'],
    [2, 2, 'valid'],
    [3, 1, 'same'],
  ] as const) {
    it(`MaxPoolGrad ${window}x${window} stride ${stride} ${pad}, ties to the first position: within 1e-4${suffix}`, async () => {
      const before = calls(native);
      const r = await cpuThenWasm(() =>
        tf.tidy(() => {
          // ReLU makes all-zero windows (ties), and repeated values make ties inside non-zero windows too
          const base = tf.relu(rand([3, 9, 8, 5], `pool${window}${stride}${pad}`).sub(0.6));
          const x = tf.round(base.mul(2)).div(2) as tf.Tensor4D;
          const y = tf.maxPool(x, window, stride, pad);
          const g = rand(y.shape, 'pg');
          return [tf.grad((xx: tf.Tensor) => tf.maxPool(xx as tf.Tensor4D, window, stride, pad).mul(g).sum())(x).dataSync() as Float32Array];
        }),
      );
      expectClose(r);
      expectNativeRan(native, before, ['maxPoolGrad']);
    });
  }

  it(`ReLU gradient (zeros, negatives, NaN and Inf in x and dy): exactly tfjs's dy * step(x)${suffix}`, async () => {
    const f = (): Float32Array[] =>
      tf.tidy(() => {
        const values = randomArray(3 * 5 * 7 * 11, 'relu');
        values[0] = 0;
        values[1] = NaN;
        values[2] = -0;
        const x = tf.tensor4d(values, [3, 5, 7, 11]);
        const dyValues = randomArray(x.size, 'rdy');
        dyValues[3] = Infinity;
        dyValues[4] = NaN;
        const dy = tf.tensor4d(dyValues, x.shape);
        return [tf.grad((xx: tf.Tensor) => tf.relu(xx).mul(dy).sum())(x).dataSync() as Float32Array];
      });
    await initBackend({ backend: 'cpu' });
    const reference = f();
    await initBackend({ backend: 'wasm' });
    const before = calls(native);
    const ours = f();
    expect(Array.from(ours[0])).toEqual(Array.from(reference[0]));
    expectNativeRan(native, before, ['reluGrad']);
    expect(tf.getKernel(NATIVE_RELU_GRAD_KERNEL, 'wasm') !== undefined).toBe(!disabled);
  });

  it(`FusedBatchNorm (with and without offset and scale) and its gradient through tf.moments: within 1e-4${suffix}`, async () => {
    const before = calls(native);
    const r = await cpuThenWasm(() =>
      tf.tidy(() => {
        const x = rand([3, 6, 5, 7], 'bx', 2);
        const offset = rand([7], 'bo') as tf.Tensor1D;
        const scale = rand([7], 'bs', 1) as tf.Tensor1D;
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        const plain = tf.batchNorm(x, mean, variance, undefined, undefined, 1e-3);
        const full = tf.batchNorm(x, mean, variance, offset, scale, 1e-3);
        const g = rand(x.shape, 'bg');
        const grads = tf.grads((xx: tf.Tensor, o: tf.Tensor, s: tf.Tensor) => {
          const m = tf.moments(xx, [0, 1, 2]);
          return tf.batchNorm(xx, m.mean, m.variance, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3).mul(g).sum();
        })([x, offset, scale]);
        return [plain, full, ...grads].map((t) => t.dataSync() as Float32Array);
      }),
    );
    expectClose(r);
    expectNativeRan(native, before, ['batchNorm']);
  });

  it(`Sum and Mean over leading axes (bias gradients, moments): within 1e-4${suffix}`, async () => {
    const before = calls(native);
    const r = await cpuThenWasm(() =>
      tf.tidy(() => {
        const x = rand([4, 9, 11, 13], 'sx', 3);
        return [tf.sum(x, [0, 1, 2]), tf.mean(x, [0, 1, 2], true), tf.sum(x, 0), tf.mean(x.reshape([36, 143]), 0)].map((t) => t.dataSync() as Float32Array);
      }),
    );
    expectClose(r);
    expectNativeRan(native, before, ['columnSum']);
  });

  it(`Add, Sub and Multiply of large float32 tensors (same shape, per-channel, scalar, either side) and int32: within 1e-6${suffix}`, async () => {
    const before = calls(native);
    const r = await cpuThenWasm(() =>
      tf.tidy(() => {
        const a = rand([4, 9, 11, 13], 'ba');
        const b = rand([4, 9, 11, 13], 'bb');
        const c = rand([13], 'bc');
        const c4 = rand([1, 1, 1, 13], 'bd');
        const tail = rand([11, 13], 'be');
        const s = tf.scalar(1.5);
        const out = [
          tf.add(a, b),
          tf.sub(a, b),
          tf.mul(a, b),
          tf.add(a, c),
          tf.add(c, a),
          tf.sub(a, c4),
          tf.sub(c4, a),
          tf.mul(c, a),
          tf.mul(a, s),
          tf.sub(a, s),
          tf.add(tail, a),
          tf.add(a, rand([4, 1, 1, 13], 'bf')),
          tf.add(tf.range(0, 5000, 1, 'int32'), tf.scalar(3, 'int32')).cast('float32'),
        ];
        return out.map((t) => t.dataSync() as Float32Array);
      }),
    );
    expectClose(r, 1e-6);
    expectNativeRan(native, before, ['binary']);
  });

  it(`createAdam's native update matches tf.train.adam over 3 steps (values and moments, large and small variables)${suffix}`, async () => {
    const run = async (adam: (lr: number) => tf.Optimizer): Promise<Float32Array[]> => {
      const vars = tf.tidy(() => [tf.variable(rand([70001], 'av1')), tf.variable(rand([3, 3, 4, 5], 'av2')), tf.variable(rand([7], 'av3'))]);
      const optimizer = adam(0.01);
      for (let step = 0; step < 3; step++) {
        const grads: tf.NamedTensorMap = {};
        vars.forEach((v, i) => (grads[v.name] = rand(v.shape, `ag${step}${i}`)));
        optimizer.applyGradients(grads);
        tf.dispose(Object.values(grads));
      }
      const weights = await optimizer.getWeights();
      const out = [...vars.map((v) => v.dataSync() as Float32Array), ...weights.slice(1).map((w) => w.tensor.dataSync() as Float32Array)];
      optimizer.dispose();
      tf.dispose([...vars, weights[0].tensor]);
      return out;
    };
    await initBackend({ backend: 'cpu' });
    const reference = await run((lr) => tf.train.adam(lr));
    await initBackend({ backend: 'wasm' });
    const before = calls(native);
    const tensors = tf.memory().numTensors;
    const ours = await run((lr) => createAdam(lr));
    expect(tf.memory().numTensors).toBe(tensors);
    expect(ours.length).toBe(reference.length);
    reference.forEach((r, i) => expect(maxRelativeDifference(ours[i], r)).toBeLessThanOrEqual(1e-6));
    expectNativeRan(native, before, ['adam']);
  });

  it(`Concat and SplitV on the last, a middle and the first axis (float32 and int32): exact${suffix}`, async () => {
    const before = calls(native);
    const r = await cpuThenWasm(() =>
      tf.tidy(() => {
        const a = rand([2, 3, 4, 5], 'ca');
        const b = rand([2, 3, 4, 3], 'cb');
        const out: tf.Tensor[] = [tf.concat([a, b], 3), tf.concat([a, rand([2, 2, 4, 5], 'cc')], 1), tf.concat([a, a, rand([1, 3, 4, 5], 'cd')], 0)];
        out.push(...tf.split(tf.concat([a, b], -1), [5, 1, 2], -1));
        out.push(...tf.split(a, [1, 2], 1));
        out.push(tf.concat([tf.range(0, 6, 1, 'int32').reshape([2, 3]), tf.range(10, 14, 1, 'int32').reshape([2, 2])], 1).cast('float32'));
        return out.map((t) => t.dataSync() as Float32Array);
      }),
    );
    expectClose(r, 0);
    expectNativeRan(native, before, ['copyColumns']);
  });

  it(`gradients of a small conv / pool / concat model through tf.grads: within 1e-4${suffix}`, async () => {
    const before = calls(native);
    const r = await cpuThenWasm(() =>
      tf.tidy(() => {
        const x = rand([3, 17, 16, 3], 'mx');
        const w1 = rand([3, 3, 3, 8], 'm1');
        const b1 = rand([8], 'mb1');
        const ws = rand([1, 1, 8, 5], 'ms');
        const we1 = rand([1, 1, 5, 6], 'me1');
        const we3 = rand([3, 3, 5, 6], 'me3');
        const f = (...vars: tf.Tensor[]): tf.Scalar => {
          const [xx, a1, c1, s, e1, e3] = vars as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
          let h = tf.relu(tf.add(tf.conv2d(xx, a1, 2, 'valid'), c1)) as tf.Tensor4D;
          h = tf.maxPool(h, 3, 2, 'valid');
          const sq = tf.relu(tf.conv2d(h, s, 1, 'valid')) as tf.Tensor4D;
          const cat = tf.concat([tf.relu(tf.conv2d(sq, e1, 1, 'valid')), tf.relu(tf.conv2d(sq, e3, 1, 'same'))], 3);
          return tf.mean(tf.square(tf.mean(cat, [1, 2]).sub(0.5)));
        };
        return tf.grads(f)([x, w1, b1, ws, we1, we3]).map((g) => g.dataSync() as Float32Array);
      }),
    );
    expectClose(r);
    expectNativeRan(native, before, ['forward', 'backwardData', 'backwardWeights']);
  });

  it(`conv results do not depend on the thread count (1 vs 2 OpenMP threads)${suffix}`, async () => {
    await initBackend({ backend: 'wasm' });
    const run = (): Float32Array[] =>
      tf.tidy(() => {
        const x = rand([4, 12, 12, 6], 'tx') as tf.Tensor4D;
        const w = rand([3, 3, 6, 8], 'tw') as tf.Tensor4D;
        const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same').square().sum())([x, w]);
        return [dx, dw].map((t) => t.dataSync() as Float32Array);
      });
    const threads = native?.getThreads() ?? 1;
    try {
      native?.setThreads(1);
      const one = run();
      native?.setThreads(2);
      const two = run();
      one.forEach((a, i) => expect(maxRelativeDifference(two[i], a)).toBeLessThanOrEqual(1e-5));
    } finally {
      native?.setThreads(threads);
    }
  });
});
