/**
 * A/B in one process, on SqueezeNet-at-128px shapes (batch 32): the ways agekit can compute conv2d gradients on wasm.
 * Input gradient: wasm's native Conv2DBackpropInput, the stride-1 forward-conv form (`conv2dInputGradient`) and
 * matMul + col2im (`conv2dInputGradientCol2im`). Filter gradient: the convolution form (`conv2dFilterGradient`) and
 * im2col + matMul (`conv2dFilterGradientIm2col`). Fresh tensors every repetition (XNNPACK caches packed operands by
 * tensor), methods interleaved so machine load hits them alike; prints the median ms per method.
 *
 *   npx tsx tools/bench/train/conv-grad-ab.ts [--reps 3]
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { conv2dFilterGradient, conv2dFilterGradientIm2col, conv2dInputGradient, conv2dInputGradientCol2im, initBackend } from '@agekit/runtime';
import { median } from '../statistics';

type Shape4 = [number, number, number, number];
interface Case {
  name: string;
  x: Shape4;
  w: Shape4;
  stride: number;
  pad: 'same' | 'valid';
}

const CASES: Case[] = [
  { name: 'conv1 3x3/2 3->64', x: [32, 128, 128, 3], w: [3, 3, 3, 64], stride: 2, pad: 'valid' },
  { name: 'fire2 expand3x3 16->64', x: [32, 31, 31, 16], w: [3, 3, 16, 64], stride: 1, pad: 'same' },
  { name: 'fire4 expand3x3 32->128', x: [32, 15, 15, 32], w: [3, 3, 32, 128], stride: 1, pad: 'same' },
  { name: 'fire8 expand3x3 64->256', x: [32, 7, 7, 64], w: [3, 3, 64, 256], stride: 1, pad: 'same' },
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: 'string', default: '3' } } });
  const reps = Number(values.reps);
  await import('@tensorflow/tfjs-backend-wasm');
  const native = tf.getKernel('Conv2DBackpropInput', 'wasm'); // before agekit replaces it
  await initBackend({ backend: 'wasm' });
  console.log(`load average at start: ${os.loadavg()[0].toFixed(2)}`);
  for (const c of CASES) {
    const outShape = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.w) as tf.Tensor4D, c.stride, c.pad).shape);
    const methods: Record<string, (x: tf.Tensor4D, w: tf.Tensor4D, dy: tf.Tensor4D) => tf.Tensor> = {
      'dx native': (_x, w, dy) => {
        if (!native) return tf.zeros([1]);
        const ours = tf.getKernel('Conv2DBackpropInput', 'wasm');
        if (!ours) throw new Error('Conv2DBackpropInput not registered');
        tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
        tf.registerKernel(native);
        try {
          return tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: c.stride, pad: c.pad, inputShape: c.x, dataFormat: 'NHWC' }) as tf.Tensor;
        } finally {
          tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
          tf.registerKernel(ours);
        }
      },
      'dx conv form': (_x, w, dy) => (c.stride === 1 ? conv2dInputGradient(dy, w, c.x, c.stride, c.pad) : tf.zeros([1])),
      'dx col2im': (_x, w, dy) => conv2dInputGradientCol2im(dy, w, c.x, c.stride, c.pad),
      'dW conv form': (x, _w, dy) => conv2dFilterGradient(x, dy, c.w, c.stride, c.pad),
      'dW im2col': (x, _w, dy) => conv2dFilterGradientIm2col(x, dy, c.w, c.stride, c.pad),
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(methods).map((k) => [k, []]));
    for (let rep = 0; rep <= reps; rep++) {
      for (const [name, f] of Object.entries(methods)) {
        const x = tf.randomNormal(c.x) as tf.Tensor4D;
        const w = tf.randomNormal(c.w) as tf.Tensor4D;
        const dy = tf.randomNormal(outShape) as tf.Tensor4D;
        const start = performance.now();
        const r = f(x, w, dy);
        r.dataSync();
        if (rep > 0) times[name].push(performance.now() - start); // rep 0 warms up
        tf.dispose([r, x, w, dy]);
      }
    }
    console.log(`${c.name.padEnd(26)} ${Object.entries(times).map(([k, t]) => `${k} ${median(t).toFixed(0)}`).join(' | ')} ms`);
  }
}

void main();
