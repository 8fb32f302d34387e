import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@agekit/runtime';
import { predictOutputs } from './evaluate';

describe('predictOutputs', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('with flip: the mean of the outputs for each image and its left-right mirror', () => {
    const images = { size: 3, channels: 1 as const, pixels: Uint8Array.from([10, 20, 30, 0, 0, 0, 0, 0, 0, 40, 50, 60, 0, 0, 0, 0, 0, 0]) };
    const norm = { mean: [0], std: [1] };
    // a model that reads the top-left pixel
    const square = tf.input({ shape: [3, 3, 1] });
    const firstPixel = tf.layers.flatten().apply(tf.layers.cropping2D({ cropping: [[0, 2], [0, 2]] }).apply(square)) as tf.SymbolicTensor;
    const reader = tf.model({ inputs: square, outputs: firstPixel });
    expect(predictOutputs(reader, images, norm, 64)).toEqual([[10], [40]]);
    // mirrored, the top-left pixel is the top-right one: (10 + 30) / 2, (40 + 60) / 2
    expect(predictOutputs(reader, images, norm, 1, true)).toEqual([[20], [50]]);
    reader.dispose();
  });
});
