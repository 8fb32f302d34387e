import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Normalization } from '@agekit/model';

/**
 * face-api's AgeGenderNet (`@vladmandic/face-api`, model/age_gender_model) rebuilt as a tfjs Layers model.
 *
 * Its feature extractor is a TinyXception (src/xception/TinyXception.ts):
 * - input 112x112 RGB, x' = (x - [122.782, 117.001, 104.298]) / 255 (src: `normalize(...).div(255)`);
 * - entry flow: conv 3x3/2 + bias + ReLU; reduction block 0 (input not activated); reduction block 1;
 *   a reduction block = [ReLU] -> separable conv 3x3 -> ReLU -> separable conv 3x3 -> max-pool 3x3/2 'same',
 *   plus a 1x1/2 conv of the block input (residual);
 * - middle flow: 2 main blocks = 3 x (ReLU -> separable conv 3x3) + identity residual;
 * - exit flow: reduction block -> separable conv 3x3 -> ReLU (7x7x512);
 * - AgeGenderNet pools it with avgPool 7x7 (= global average pooling at 112 px) to the 512-d feature, then
 *   `fc/age` (512 -> 1, age in years) and `fc/gender` (512 -> 2, softmax).
 * Every conv is 'same' padded with a bias; no batch norm. Only exportable layer classes are used.
 */

export const FACEAPI_INPUT_SIZE = 112;
export const FACEAPI_FEATURES = 512;
/** face-api's preprocessing in the agekit convention: x' = (pixel - mean) / std, pixels 0..255. */
export const FACEAPI_NORMALIZATION: Normalization = { mean: [122.782, 117.001, 104.298], std: [255, 255, 255] };
const MAIN_BLOCKS = 2;

/** One weight of a tfjs weights manifest, decoded to float32. */
export interface DecodedWeight {
  name: string;
  shape: number[];
  values: Float32Array;
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

interface ManifestGroup {
  paths: string[];
  weights: ManifestEntry[];
}

/** The folder of face-api's model files inside the installed package. */
export function defaultFaceApiModelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * Read a tfjs weights manifest (`<name>-weights_manifest.json` + its .bin shards) and decode every weight to float32.
 * Supports float32 entries and affine-quantized uint8/uint16 (value = q * scale + min) and float16 entries.
 */
export async function readWeightsManifest(manifestFile: string): Promise<DecodedWeight[]> {
  let groups: ManifestGroup[];
  try {
    groups = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as ManifestGroup[];
  } catch (error) {
    throw new Error(`${manifestFile}: cannot read weights manifest (${error instanceof Error ? error.message : String(error)})`);
  }
  const out: DecodedWeight[] = [];
  for (const group of groups) {
    const shards = await Promise.all(group.paths.map((p) => fs.readFile(path.join(path.dirname(manifestFile), p))));
    const bytes = Buffer.concat(shards);
    let offset = 0;
    for (const entry of group.weights) {
      const count = entry.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(count);
      const q = entry.quantization;
      const storage = q?.dtype ?? entry.dtype;
      const width = storage === 'uint8' ? 1 : storage === 'uint16' || storage === 'float16' ? 2 : 4;
      if (offset + count * width > bytes.length) throw new Error(`${manifestFile}: weight '${entry.name}' runs past the end of its shards`);
      if (storage === 'float32') {
        for (let i = 0; i < count; i++) values[i] = bytes.readFloatLE(offset + 4 * i);
      } else if (storage === 'uint8' || storage === 'uint16') {
        if (q?.scale === undefined || q.min === undefined) throw new Error(`${manifestFile}: weight '${entry.name}': ${storage} quantization without scale/min`);
        for (let i = 0; i < count; i++) values[i] = (storage === 'uint8' ? bytes[offset + i] : bytes.readUInt16LE(offset + 2 * i)) * q.scale + q.min;
      } else if (storage === 'float16') {
        for (let i = 0; i < count; i++) values[i] = float16ToFloat32(bytes.readUInt16LE(offset + 2 * i));
      } else {
        throw new Error(`${manifestFile}: weight '${entry.name}': unsupported dtype ${storage}`);
      }
      offset += count * width;
      out.push({ name: entry.name, shape: entry.shape, values });
    }
  }
  return out;
}

export interface FaceApiXceptionOptions {
  /** Decoded AgeGenderNet weights (from `readWeightsManifest`); absent: random (glorot) weights, e.g. for tests. */
  weights?: DecodedWeight[];
  /** Also output face-api's age regression (fc/age) on the 512-d feature: the model's output is then [N, 1] age in years. */
  ageHead?: boolean;
  /** Layer name prefix (default 'faceapi'). */
  prefix?: string;
}

/** How the rebuilt layers map onto face-api's weight names; filled while building. */
type WeightBinding = { layer: tf.layers.Layer; names: string[] };

/**
 * Build the TinyXception backbone on an existing symbolic input (already normalised with FACEAPI_NORMALIZATION,
 * 112x112x3) and return its 512-d pooled feature. Layer names are `<prefix>_<face-api weight prefix with '/' -> '_'>`.
 */
export function applyFaceApiXception(input: tf.SymbolicTensor, prefix = 'faceapi'): { features: tf.SymbolicTensor; bindings: WeightBinding[] } {
  const bindings: WeightBinding[] = [];
  const layerName = (source: string): string => `${prefix}_${source.replace(/\//g, '_')}`;
  const relu = (x: tf.SymbolicTensor, source: string): tf.SymbolicTensor => tf.layers.reLU({ name: layerName(`${source}/relu`) }).apply(x) as tf.SymbolicTensor;
  const conv = (x: tf.SymbolicTensor, source: string, filters: number, kernelSize: number, strides: number): tf.SymbolicTensor => {
    const layer = tf.layers.conv2d({ name: layerName(source), filters, kernelSize, strides, padding: 'same', useBias: true });
    bindings.push({ layer, names: [`${source}/filters`, `${source}/bias`] });
    return layer.apply(x) as tf.SymbolicTensor;
  };
  const separable = (x: tf.SymbolicTensor, source: string, filters: number): tf.SymbolicTensor => {
    const layer = tf.layers.separableConv2d({ name: layerName(source), filters, kernelSize: 3, strides: 1, padding: 'same', depthMultiplier: 1, useBias: true });
    bindings.push({ layer, names: [`${source}/depthwise_filter`, `${source}/pointwise_filter`, `${source}/bias`] });
    return layer.apply(x) as tf.SymbolicTensor;
  };
  const add = (a: tf.SymbolicTensor, b: tf.SymbolicTensor, source: string): tf.SymbolicTensor => tf.layers.add({ name: layerName(`${source}/add`) }).apply([a, b]) as tf.SymbolicTensor;
  const reduction = (x: tf.SymbolicTensor, source: string, filters: number, activateInput: boolean): tf.SymbolicTensor => {
    let out = activateInput ? relu(x, `${source}/in`) : x;
    out = separable(out, `${source}/separable_conv0`, filters);
    out = separable(relu(out, `${source}/separable_conv0`), `${source}/separable_conv1`, filters);
    out = tf.layers.maxPooling2d({ name: layerName(`${source}/max_pool`), poolSize: 3, strides: 2, padding: 'same' }).apply(out) as tf.SymbolicTensor;
    return add(out, conv(x, `${source}/expansion_conv`, filters, 1, 2), source);
  };
  const main = (x: tf.SymbolicTensor, source: string, filters: number): tf.SymbolicTensor => {
    let out = separable(relu(x, `${source}/in`), `${source}/separable_conv0`, filters);
    out = separable(relu(out, `${source}/separable_conv0`), `${source}/separable_conv1`, filters);
    out = separable(relu(out, `${source}/separable_conv1`), `${source}/separable_conv2`, filters);
    return add(out, x, source);
  };

  let x = relu(conv(input, 'entry_flow/conv_in', 32, 3, 2), 'entry_flow/conv_in');
  x = reduction(x, 'entry_flow/reduction_block_0', 64, false);
  x = reduction(x, 'entry_flow/reduction_block_1', 128, true);
  for (let i = 0; i < MAIN_BLOCKS; i++) x = main(x, `middle_flow/main_block_${i}`, 128);
  x = reduction(x, 'exit_flow/reduction_block', 256, true);
  x = relu(separable(x, 'exit_flow/separable_conv', 512), 'exit_flow/separable_conv');
  const features = tf.layers.globalAveragePooling2d({ name: layerName('pool') }).apply(x) as tf.SymbolicTensor;
  return { features, bindings };
}

/** Set the layers' weights from face-api's decoded weights (by face-api name); throws naming a missing or misshaped weight. */
export function bindFaceApiWeights(bindings: WeightBinding[], weights: DecodedWeight[]): void {
  const byName = new Map(weights.map((w) => [w.name, w]));
  for (const { layer, names } of bindings) {
    const expected = layer.getWeights().map((w) => w.shape);
    const tensors = names.map((name, i) => {
      const w = byName.get(name);
      if (!w) throw new Error(`face-api weights: '${name}' is missing`);
      if (w.shape.join('x') !== expected[i].join('x')) throw new Error(`face-api weights: '${name}' has shape [${w.shape}], layer ${layer.name} expects [${expected[i]}]`);
      return tf.tensor(w.values, w.shape);
    });
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}

/**
 * face-api's TinyXception as a Layers model: input [N, 112, 112, 3] normalised with FACEAPI_NORMALIZATION, output the
 * 512-d pooled feature, or with `ageHead` the age in years ([N, 1], face-api's fc/age).
 */
export function buildFaceApiXception(options: FaceApiXceptionOptions = {}): tf.LayersModel {
  const prefix = options.prefix ?? 'faceapi';
  const input = tf.input({ shape: [FACEAPI_INPUT_SIZE, FACEAPI_INPUT_SIZE, 3], name: `${prefix}_input` });
  const { features, bindings } = applyFaceApiXception(input, prefix);
  let output = features;
  if (options.ageHead) {
    const dense = tf.layers.dense({ name: `${prefix}_fc_age`, units: 1 });
    output = dense.apply(features) as tf.SymbolicTensor;
    bindings.push({ layer: dense, names: ['fc/age/weights', 'fc/age/bias'] });
  }
  const model = tf.model({ inputs: input, outputs: output, name: options.ageHead ? `${prefix}_age` : `${prefix}_xception` });
  if (options.weights) bindFaceApiWeights(bindings, options.weights);
  return model;
}

/** Load face-api's AgeGenderNet weights from `modelDir` (default: the installed package's model/) and build the backbone. */
export async function loadFaceApiXception(options: Omit<FaceApiXceptionOptions, 'weights'> & { modelDir?: string } = {}): Promise<tf.LayersModel> {
  const dir = options.modelDir ?? defaultFaceApiModelDir();
  const weights = await readWeightsManifest(path.join(dir, 'age_gender_model-weights_manifest.json'));
  return buildFaceApiXception({ ...options, weights });
}
