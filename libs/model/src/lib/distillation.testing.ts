// Test helpers (specs only; excluded from the library build by tsconfig.lib.json).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { saveModel } from './io';

/**
 * Save a regression teacher of `size` px RGB whose age is exactly `mean + std * (mean of the left half's pixels) / 255`:
 * one dense unit over the flattened image, weights only on the left half. A mirrored image gives its right half's age.
 */
export async function saveLeftHalfTeacher(dir: string, size: number, scale: { mean: number; std: number }): Promise<void> {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [size, size, 3] }), tf.layers.dense({ units: 1, name: 'age' })] });
  const kernel = new Float32Array(size * size * 3);
  const leftValues = size * (size / 2) * 3;
  for (let y = 0; y < size; y++) for (let x = 0; x < size / 2; x++) for (let c = 0; c < 3; c++) kernel[(y * size + x) * 3 + c] = 1 / leftValues;
  model.layers[1].setWeights([tf.tensor2d(kernel, [kernel.length, 1]), tf.zeros([1])]);
  await saveModel(model, dir, {
    format: 'agekit-model',
    version: 1,
    architecture: 'simple-cnn',
    parameters: kernel.length + 1,
    task: { kind: 'regression', labels: [], representativeAges: [], ageRange: { min: 0, max: 120 }, targetScale: scale },
    input: { layout: 'NHWC', size, channels: 3, colour: 'rgb', resize: 'fill', normalization: { mean: [0, 0, 0], std: [255, 255, 255] } },
    output: { kind: 'standardized-age' },
    backend: tf.getBackend(),
    createdAt: new Date(0).toISOString(),
  });
  model.dispose();
}

/** Write a lossless `size` px grey PNG whose left half is `left` and right half `right` (0..255). */
export async function writeHalvesImage(file: string, size: number, left: number, right: number): Promise<void> {
  const pixels = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) pixels.fill(x < size / 2 ? left : right, (y * size + x) * 3, (y * size + x) * 3 + 3);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toFile(file);
}
