import * as tf from '@tensorflow/tfjs';
import { fusedBatchNormalization } from '@agekit/runtime';

export type ArchitectureName = 'squeezenet' | 'simple-cnn';
export const ARCHITECTURES: readonly ArchitectureName[] = ['squeezenet', 'simple-cnn'];

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

/** Build an untrained tfjs Layers model. Input: [batch, size, size, channels] float32, normalised. */
export function buildModel(options: ArchitectureOptions): tf.LayersModel {
  if (!Number.isInteger(options.size) || options.size < (options.architecture === 'squeezenet' ? 32 : 16)) {
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
        : (() => {
            throw new Error(`unknown architecture '${String(options.architecture)}' (known: ${ARCHITECTURES.join(', ')})`);
          })();
  return tf.model({ name: options.architecture, inputs: input, outputs: output });
}

/** Total number of weights (trainable and not). */
export function countParameters(model: tf.LayersModel): number {
  return model.weights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}
