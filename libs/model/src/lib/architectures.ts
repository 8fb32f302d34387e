import * as tf from '@tensorflow/tfjs';
import { fusedBatchNormalization } from '@agekit/runtime';

export type ArchitectureName = 'squeezenet' | 'simple-cnn' | 'mobilenet-v3-small';
export const ARCHITECTURES: readonly ArchitectureName[] = ['squeezenet', 'simple-cnn', 'mobilenet-v3-small'];

/** What the network's last layer produces. */
export type HeadKind = 'classification' | 'regression';

export interface ArchitectureOptions {
  architecture: ArchitectureName;
  /** Input side in pixels (square). */
  size: number;
  /** 3 (RGB) or 1 (grayscale). */
  channels: 1 | 3;
  /** Classification: number of classes (softmax outputs). Regression: ignored (one linear output). */
  classes: number;
  head: HeadKind;
  /** Dropout rate before the head (default 0.5). */
  dropout?: number;
  /** Seed for weight initialisation (same seed -> same initial weights). */
  seed?: number;
  /**
   * squeezenet only: batch normalisation after every convolution (before its ReLU). Default true: without it the
   * net (no normalisation, 18 convolutions) stays at chance from scratch here (loss ln K for 10+ epochs on UTKFace and
   * the synthetic faces). Folded into the convolutions on ONNX export. false = torchvision's exact squeezenet1_1.
   */
  batchNorm?: boolean;
}

/** Layer types every architecture here is built from: the set the ONNX exporter handles. */
export const EXPORTABLE_LAYER_CLASSES = [
  'InputLayer',
  'Conv2D',
  'DepthwiseConv2D',
  'BatchNormalization',
  'ReLU',
  'Activation',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'Concatenate',
  'Add',
  'Multiply',
  'Dense',
  'Flatten',
  'Dropout',
] as const;

type Initializer = ReturnType<typeof tf.initializers.glorotUniform>;

/** An initializer seed per layer. tfjs treats seed 0 as "no seed" (Math.random), so 0 maps to another constant. */
export function layerSeed(seed: number, n: number): number {
  return seed * 1000 + n || 0x7fffffff;
}

class Seeds {
  private n = 0;
  constructor(private readonly seed: number) {}
  kernel(): Initializer {
    return tf.initializers.glorotUniform({ seed: layerSeed(this.seed, this.n++) });
  }
  he(): Initializer {
    return tf.initializers.heNormal({ seed: layerSeed(this.seed, this.n++) });
  }
}

function conv(
  x: tf.SymbolicTensor,
  seeds: Seeds,
  name: string,
  filters: number,
  kernelSize: number,
  options: { strides?: number; padding?: 'same' | 'valid'; activation?: 'relu' | 'linear'; batchNorm?: boolean } = {},
): tf.SymbolicTensor {
  // with batch norm: conv without bias (the norm's beta replaces it) -> batch norm -> ReLU
  const bn = options.batchNorm ?? false;
  const activation = options.activation ?? 'relu';
  let y = tf.layers
    .conv2d({
      name,
      filters,
      kernelSize,
      strides: options.strides ?? 1,
      padding: options.padding ?? 'valid',
      activation: bn ? 'linear' : activation,
      useBias: !bn,
      kernelInitializer: seeds.he(),
    })
    .apply(x) as tf.SymbolicTensor;
  if (!bn) return y;
  y = fusedBatchNormalization({ name: `${name}_bn`, axis: -1, momentum: 0.9, epsilon: 1e-3 }).apply(y) as tf.SymbolicTensor;
  return activation === 'relu' ? (tf.layers.reLU({ name: `${name}_relu` }).apply(y) as tf.SymbolicTensor) : y;
}

function fire(x: tf.SymbolicTensor, seeds: Seeds, name: string, squeeze: number, expand: number, batchNorm: boolean): tf.SymbolicTensor {
  const s = conv(x, seeds, `${name}_squeeze1x1`, squeeze, 1, { batchNorm });
  const e1 = conv(s, seeds, `${name}_expand1x1`, expand, 1, { batchNorm });
  const e3 = conv(s, seeds, `${name}_expand3x3`, expand, 3, { padding: 'same', batchNorm });
  return tf.layers.concatenate({ name: `${name}_concat`, axis: -1 }).apply([e1, e3]) as tf.SymbolicTensor;
}

function maxPool(x: tf.SymbolicTensor, name: string, poolSize: number, strides: number): tf.SymbolicTensor {
  return tf.layers.maxPooling2d({ name, poolSize, strides, padding: 'valid' }).apply(x) as tf.SymbolicTensor;
}

/**
 * SqueezeNet 1.1 (Iandola et al.; torchvision's squeezenet1_1 layout): conv 3x3/2 (64), pool, fire x2, pool, fire x2,
 * pool, fire x4, dropout, conv 1x1 to K classes + ReLU, global average pool, softmax. Regression: conv 1x1 to one
 * linear output, global average pool. Pools use 'valid' padding (torch uses ceil mode; parameter counts are equal).
 */
function squeezenet(input: tf.SymbolicTensor, o: ArchitectureOptions, seeds: Seeds): tf.SymbolicTensor {
  const bn = o.batchNorm ?? true;
  let x = conv(input, seeds, 'conv1', 64, 3, { strides: 2, batchNorm: bn });
  x = maxPool(x, 'pool1', 3, 2);
  x = fire(x, seeds, 'fire2', 16, 64, bn);
  x = fire(x, seeds, 'fire3', 16, 64, bn);
  x = maxPool(x, 'pool3', 3, 2);
  x = fire(x, seeds, 'fire4', 32, 128, bn);
  x = fire(x, seeds, 'fire5', 32, 128, bn);
  x = maxPool(x, 'pool5', 3, 2);
  x = fire(x, seeds, 'fire6', 48, 192, bn);
  x = fire(x, seeds, 'fire7', 48, 192, bn);
  x = fire(x, seeds, 'fire8', 64, 256, bn);
  x = fire(x, seeds, 'fire9', 64, 256, bn);
  x = tf.layers.dropout({ name: 'drop9', rate: o.dropout ?? 0.5, seed: o.seed }).apply(x) as tf.SymbolicTensor;
  if (o.head === 'classification') {
    x = conv(x, seeds, 'conv10', o.classes, 1, { activation: 'relu' });
    x = tf.layers.globalAveragePooling2d({ name: 'pool10' }).apply(x) as tf.SymbolicTensor;
    return tf.layers.activation({ name: 'probabilities', activation: 'softmax' }).apply(x) as tf.SymbolicTensor;
  }
  x = conv(x, seeds, 'conv10', 1, 1, { activation: 'linear' });
  return tf.layers.globalAveragePooling2d({ name: 'output' }).apply(x) as tf.SymbolicTensor;
}

/** Four conv(3x3, same, ReLU) + max-pool(2) blocks (32, 64, 128, 128 filters), flatten, dense 512 + ReLU, dropout, head. */
function simpleCnn(input: tf.SymbolicTensor, o: ArchitectureOptions, seeds: Seeds): tf.SymbolicTensor {
  let x = input;
  [32, 64, 128, 128].forEach((filters, i) => {
    x = conv(x, seeds, `block${i + 1}_conv`, filters, 3, { padding: 'same' });
    x = maxPool(x, `block${i + 1}_pool`, 2, 2);
  });
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ name: 'dense1', units: 512, activation: 'relu', kernelInitializer: seeds.he() }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ name: 'dropout1', rate: o.dropout ?? 0.5, seed: o.seed }).apply(x) as tf.SymbolicTensor;
  if (o.head === 'classification') {
    return tf.layers
      .dense({ name: 'probabilities', units: o.classes, activation: 'softmax', kernelInitializer: seeds.kernel() })
      .apply(x) as tf.SymbolicTensor;
  }
  return tf.layers.dense({ name: 'output', units: 1, activation: 'linear', kernelInitializer: seeds.kernel() }).apply(x) as tf.SymbolicTensor;
}

/** Batch norm of a linear layer's output (momentum and epsilon as in `conv`). */
function batchNorm(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return fusedBatchNormalization({ name, axis: -1, momentum: 0.9, epsilon: 1e-3 }).apply(x) as tf.SymbolicTensor;
}

/**
 * Hard-swish x * hardSigmoid(x), with tfjs's (Keras's) hard sigmoid clip(0.2 x + 0.5, 0, 1) (ONNX HardSigmoid's
 * default) in place of the paper's relu6(x + 3) / 6: the same shape with a slope of 0.2 instead of 1/6.
 */
function hardSwish(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  const gate = tf.layers.activation({ name: `${name}_hsigmoid`, activation: 'hardSigmoid' }).apply(x) as tf.SymbolicTensor;
  return tf.layers.multiply({ name: `${name}_hswish` }).apply([x, gate]) as tf.SymbolicTensor;
}

function makeDivisible(value: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor(value + divisor / 2) - (Math.floor(value + divisor / 2) % divisor));
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}

/**
 * Squeeze-and-excitation: average over the whole map (an AveragePooling2D as large as the map, so the result stays
 * [1, 1, C]), 1x1 conv to C/4 + ReLU, 1x1 conv to C + hard sigmoid, times the input (broadcast over the map).
 */
function squeezeExcite(x: tf.SymbolicTensor, seeds: Seeds, name: string): tf.SymbolicTensor {
  const [, h, w, channels] = x.shape as number[];
  let s = tf.layers.averagePooling2d({ name: `${name}_pool`, poolSize: [h, w], strides: [h, w], padding: 'valid' }).apply(x) as tf.SymbolicTensor;
  s = tf.layers.conv2d({ name: `${name}_reduce`, filters: makeDivisible(channels / 4), kernelSize: 1, activation: 'relu', kernelInitializer: seeds.he() }).apply(s) as tf.SymbolicTensor;
  s = tf.layers.conv2d({ name: `${name}_expand`, filters: channels, kernelSize: 1, activation: 'hardSigmoid', kernelInitializer: seeds.kernel() }).apply(s) as tf.SymbolicTensor;
  return tf.layers.multiply({ name: `${name}_scale` }).apply([x, s]) as tf.SymbolicTensor;
}

/** One MobileNetV3 bottleneck: 1x1 expand, k x k depthwise (stride), optional SE, 1x1 project; residual when shapes match. */
function bottleneck(
  x: tf.SymbolicTensor,
  seeds: Seeds,
  name: string,
  b: { kernel: number; expand: number; out: number; se: boolean; hardSwish: boolean; stride: number },
): tf.SymbolicTensor {
  const inChannels = (x.shape as number[])[3];
  const act = (y: tf.SymbolicTensor, n: string): tf.SymbolicTensor => (b.hardSwish ? hardSwish(y, n) : (tf.layers.reLU({ name: `${n}_relu` }).apply(y) as tf.SymbolicTensor));
  let y = x;
  if (b.expand !== inChannels) {
    y = tf.layers.conv2d({ name: `${name}_expand`, filters: b.expand, kernelSize: 1, useBias: false, kernelInitializer: seeds.he() }).apply(y) as tf.SymbolicTensor;
    y = act(batchNorm(y, `${name}_expand_bn`), `${name}_expand`);
  }
  y = tf.layers
    .depthwiseConv2d({ name: `${name}_depthwise`, kernelSize: b.kernel, strides: b.stride, padding: 'same', useBias: false, depthwiseInitializer: seeds.he() })
    .apply(y) as tf.SymbolicTensor;
  y = act(batchNorm(y, `${name}_depthwise_bn`), `${name}_depthwise`);
  if (b.se) y = squeezeExcite(y, seeds, `${name}_se`);
  y = tf.layers.conv2d({ name: `${name}_project`, filters: b.out, kernelSize: 1, useBias: false, kernelInitializer: seeds.he() }).apply(y) as tf.SymbolicTensor;
  y = batchNorm(y, `${name}_project_bn`);
  return b.stride === 1 && inChannels === b.out ? (tf.layers.add({ name: `${name}_add` }).apply([x, y]) as tf.SymbolicTensor) : y;
}

/**
 * MobileNetV3-Small (Howard et al. 2019, table 2): conv 3x3/2 (16) + hard-swish, eleven bottlenecks (depthwise
 * separable, SE in nine, ReLU in the first three and hard-swish after), 1x1 conv to 576 + hard-swish, global average
 * pool, dropout, head. The paper's 1x1 "last" layer (576 -> 1024 after the pool) is left out so that the net stays
 * under 1M parameters with a 100-class head (0.997M; regression 0.940M). Hard sigmoid: see `hardSwish`.
 */
function mobilenetV3Small(input: tf.SymbolicTensor, o: ArchitectureOptions, seeds: Seeds): tf.SymbolicTensor {
  let x = tf.layers.conv2d({ name: 'stem', filters: 16, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: seeds.he() }).apply(input) as tf.SymbolicTensor;
  x = hardSwish(batchNorm(x, 'stem_bn'), 'stem');
  const blocks: [number, number, number, boolean, boolean, number][] = [
    // kernel, expand, out, SE, hard-swish, stride
    [3, 16, 16, true, false, 2],
    [3, 72, 24, false, false, 2],
    [3, 88, 24, false, false, 1],
    [5, 96, 40, true, true, 2],
    [5, 240, 40, true, true, 1],
    [5, 240, 40, true, true, 1],
    [5, 120, 48, true, true, 1],
    [5, 144, 48, true, true, 1],
    [5, 288, 96, true, true, 2],
    [5, 576, 96, true, true, 1],
    [5, 576, 96, true, true, 1],
  ];
  blocks.forEach(([kernel, expand, out, se, hs, stride], i) => {
    x = bottleneck(x, seeds, `block${i + 1}`, { kernel, expand, out, se, hardSwish: hs, stride });
  });
  x = tf.layers.conv2d({ name: 'last_conv', filters: 576, kernelSize: 1, useBias: false, kernelInitializer: seeds.he() }).apply(x) as tf.SymbolicTensor;
  x = hardSwish(batchNorm(x, 'last_conv_bn'), 'last_conv');
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ name: 'dropout', rate: o.dropout ?? 0.5, seed: o.seed }).apply(x) as tf.SymbolicTensor;
  if (o.head === 'classification') {
    return tf.layers.dense({ name: 'probabilities', units: o.classes, activation: 'softmax', kernelInitializer: seeds.kernel() }).apply(x) as tf.SymbolicTensor;
  }
  return tf.layers.dense({ name: 'output', units: 1, activation: 'linear', kernelInitializer: seeds.kernel() }).apply(x) as tf.SymbolicTensor;
}

/** Build an untrained tfjs Layers model. Input: [batch, size, size, channels] float32, normalised. */
export function buildModel(options: ArchitectureOptions): tf.LayersModel {
  if (!Number.isInteger(options.size) || options.size < (options.architecture === 'simple-cnn' ? 16 : 32)) {
    throw new Error(`input size ${options.size} is too small for ${options.architecture}`);
  }
  if (options.head === 'classification' && !(options.classes >= 2)) throw new Error(`classification needs at least 2 classes (got ${options.classes})`);
  const seeds = new Seeds(options.seed ?? 0);
  const input = tf.input({ name: 'image', shape: [options.size, options.size, options.channels] });
  const output =
    options.architecture === 'squeezenet'
      ? squeezenet(input, options, seeds)
      : options.architecture === 'simple-cnn'
        ? simpleCnn(input, options, seeds)
        : options.architecture === 'mobilenet-v3-small'
          ? mobilenetV3Small(input, options, seeds)
          : (() => {
            throw new Error(`unknown architecture '${String(options.architecture)}' (known: ${ARCHITECTURES.join(', ')})`);
          })();
  return tf.model({ name: options.architecture, inputs: input, outputs: output });
}

/** Total number of weights (trainable and not). */
export function countParameters(model: tf.LayersModel): number {
  return model.weights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}
