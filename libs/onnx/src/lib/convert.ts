import type * as tf from '@tensorflow/tfjs';
import { GraphBuilder, encodeModel, float, OPSET_VERSION, IR_VERSION } from './graph';

/** Layout of the ONNX model's image input: NCHW (default, what OpenCV's blobFromImage makes) or NHWC (tfjs's own). */
export type InputLayout = 'NCHW' | 'NHWC';

export interface ConvertOptions {
  /** Layout of the graph input (default 'NCHW'); with 'NHWC' the graph starts with a Transpose. */
  inputLayout?: InputLayout;
  /** Name of the graph input (default 'input'). */
  inputName?: string;
  /** Name of the graph output (default 'output'; 'output_<i>' when the model has several). */
  outputName?: string;
  /** Fold BatchNormalization into the preceding convolution/Dense where possible (default true). */
  foldBatchNorm?: boolean;
  /** Free text stored in the model's doc_string. */
  docString?: string;
  /** Stored as ONNX metadata_props. */
  metadata?: Record<string, string>;
  /**
   * Test-time flip inside the graph: the image and its left-right mirror (Slice, step -1 on the width axis) go through
   * the network as one batch of 2N, and each output is the mean of the two (Reshape [2, N, ...] + ReduceMean). Image
   * models with vector outputs only. Recorded as metadata `test_time_flip`.
   */
  testTimeFlip?: boolean;
}

export interface ConvertResult {
  /** The serialized ModelProto. */
  bytes: Uint8Array;
  inputName: string;
  inputLayout: InputLayout;
  /** Input dims in `inputLayout` order, batch first as 'N'. */
  inputDims: Array<number | string>;
  outputNames: string[];
  /** Output dims (tfjs order; 4-D outputs are transposed back to NHWC), batch as 'N'. */
  outputDims: Array<Array<number | string>>;
  opset: number;
  irVersion: number;
  /** Count of ONNX nodes per op type. */
  opCounts: Record<string, number>;
  /** Names of the BatchNormalization layers folded into a preceding layer. */
  foldedBatchNorms: string[];
  /** Names of the layers dropped because they are the identity at inference (Dropout and friends). */
  removedLayers: string[];
}

/** Thrown for a layer (or a configuration of one) the converter cannot express. */
export class UnsupportedLayerError extends Error {
  constructor(
    readonly layerName: string,
    readonly className: string,
    readonly reason: string,
  ) {
    super(`cannot export layer '${layerName}' (class ${className}): ${reason}`);
    this.name = 'UnsupportedLayerError';
  }
}

type Layer = tf.layers.Layer;
type SymbolicTensor = tf.SymbolicTensor;
interface LayerNode {
  inputTensors: SymbolicTensor[];
  outputTensors: SymbolicTensor[];
}
type Config = Record<string, unknown>;

/** What the converter knows about a value: its ONNX name and its tfjs (NHWC) shape; rank-4 values are held as NCHW in the graph. */
interface Value {
  name: string;
  shape: Array<number | null>;
}

const DROPPED_AT_INFERENCE = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout']);

/** Where a tfjs NHWC axis of a rank-4 tensor lives in the NCHW graph. */
const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1];

function normalizeAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function pair(v: unknown, fallback?: [number, number]): [number, number] {
  if (v === undefined || v === null) {
    if (fallback) return fallback;
    throw new Error('missing size');
  }
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0], a.length > 1 ? a[1] : a[0]];
}

/** TF 'same' padding for one spatial axis: the extra pixel goes at the end (bottom/right). */
export function samePadding(inputSize: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const outputSize = Math.ceil(inputSize / stride);
  const total = Math.max((outputSize - 1) * stride + effective - inputSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** HWIO (tfjs conv kernel) -> OIHW (ONNX Conv weight). */
export function hwioToOihw(kernel: Float32Array, [kh, kw, ci, co]: number[]): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + h) * kw + w] = kernel[((h * kw + w) * ci + i) * co + o];
  return out;
}

/** tfjs depthwise kernel [kh, kw, in, multiplier] -> ONNX grouped Conv weight [in*multiplier, 1, kh, kw] (output channel c*multiplier+m, as TF). */
export function depthwiseToOihw(kernel: Float32Array, [kh, kw, ci, mult]: number[]): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let c = 0; c < ci; c++)
        for (let m = 0; m < mult; m++) out[((c * mult + m) * kh + h) * kw + w] = kernel[((h * kw + w) * ci + c) * mult + m];
  return out;
}

/** A layer with weights that is linear in its output channels, before its activation: candidates for batch-norm folding. */
interface LinearOp {
  /** Emits the op with the given (possibly folded) weights into `output`. */
  emit(weights: Float32Array, bias: Float32Array, output: string): void;
  weights: Float32Array;
  bias: Float32Array;
  /** Index of the output channel of flat weight index i. */
  channelOf(i: number): number;
  channels: number;
}

class Converter {
  private readonly g = new GraphBuilder();
  private readonly values = new Map<number, Value>();
  private readonly consumers = new Map<number, number>();
  private readonly skipped = new Set<Layer>();
  private readonly folded: string[] = [];
  private readonly removed: string[] = [];
  private readonly fold: boolean;

  constructor(
    private readonly model: tf.LayersModel,
    private readonly options: ConvertOptions,
  ) {
    this.fold = options.foldBatchNorm ?? true;
  }

  convert(): ConvertResult {
    const model = this.model;
    if (model.inputs.length !== 1) throw new Error(`onnx: the model has ${model.inputs.length} inputs; only single-input models are exported`);
    const layout = this.options.inputLayout ?? 'NCHW';
    const inputName = this.options.inputName ?? 'input';
    const outputNamesPlanned = model.outputs.map((_, i) =>
      this.options.outputName && model.outputs.length === 1 ? this.options.outputName : model.outputs.length === 1 ? 'output' : `output_${i}`,
    );
    for (const name of outputNamesPlanned) this.g.reserve(name);
    const input = model.inputs[0];
    const inShape = input.shape;
    if (inShape.length !== 4 && inShape.length !== 2) throw new Error(`onnx: the model input has rank ${inShape.length}; only images (rank 4) or vectors (rank 2) are supported`);
    this.g.reserve(inputName);
    let inputDims: Array<number | string>;
    if (inShape.length === 4) {
      const [, h, w, c] = inShape;
      if (h === null || w === null || c === null) throw new Error(`onnx: the model input shape [${inShape}] must have a fixed height, width and channels`);
      if (layout === 'NHWC') {
        inputDims = ['N', h, w, c];
        const transposed = this.g.name('input_nchw');
        this.g.node('Transpose', [inputName], [transposed], { perm: [0, 3, 1, 2] });
        this.values.set(input.id, { name: transposed, shape: inShape });
      } else {
        inputDims = ['N', c, h, w];
        this.values.set(input.id, { name: inputName, shape: inShape });
      }
    } else {
      inputDims = ['N', inShape[1] ?? 0];
      this.values.set(input.id, { name: inputName, shape: inShape });
    }
    const flip = this.options.testTimeFlip === true;
    if (flip) this.mirrorInput(input, model);

    // Which graph nodes belong to this model, in topological order.
    const pending: Array<{ layer: Layer; node: LayerNode }> = [];
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      for (const node of layer.inboundNodes as unknown as LayerNode[]) pending.push({ layer, node });
    }
    const known = new Set<number>([input.id]);
    const ordered: Array<{ layer: Layer; node: LayerNode }> = [];
    for (let progress = true; progress; ) {
      progress = false;
      for (let i = 0; i < pending.length; i++) {
        const item = pending[i];
        if (item.node.inputTensors.every((t) => known.has(t.id))) {
          ordered.push(item);
          for (const t of item.node.outputTensors) known.add(t.id);
          pending.splice(i--, 1);
          progress = true;
        }
      }
    }
    const seen = new Set<Layer>();
    for (const { layer } of ordered) {
      if (seen.has(layer)) throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'the layer is used more than once in the model (shared layers are not supported)');
      seen.add(layer);
      if (layer.getClassName() === 'Sequential' || layer.getClassName() === 'Functional' || layer.getClassName() === 'Model') {
        throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'nested models are not supported; build the model flat');
      }
    }
    for (const { node } of ordered) for (const t of node.inputTensors) this.consumers.set(t.id, (this.consumers.get(t.id) ?? 0) + 1);
    for (const t of model.outputs) this.consumers.set(t.id, (this.consumers.get(t.id) ?? 0) + 1);

    const producerOf = new Map<number, { layer: Layer; node: LayerNode }>();
    for (const item of ordered) for (const t of item.node.outputTensors) producerOf.set(t.id, item);
    const consumerOf = new Map<number, { layer: Layer; node: LayerNode }>();
    for (const item of ordered) for (const t of item.node.inputTensors) consumerOf.set(t.id, item);

    for (const item of ordered) {
      if (this.skipped.has(item.layer)) continue;
      this.convertLayer(item.layer, item.node, consumerOf);
    }

    // Graph outputs.
    const outputNames: string[] = [];
    const outputDims: Array<Array<number | string>> = [];
    model.outputs.forEach((t, i) => {
      const value = this.values.get(t.id);
      if (!value) throw new Error(`onnx: output ${t.name} was not produced by the converted graph`);
      const name = outputNamesPlanned[i];
      if (flip) {
        this.meanOfPairs(value, name);
      } else if (value.shape.length === 4) {
        this.g.node('Transpose', [value.name], [name], { perm: [0, 2, 3, 1] });
      } else if (!this.g.renameProducedValue(value.name, name)) {
        this.g.node('Identity', [value.name], [name]);
      }
      outputNames.push(name);
      outputDims.push(value.shape.map((d, k) => (k === 0 ? 'N' : (d ?? `d${k}`))));
    });

    const bytes = encodeModel(this.g, {
      graphName: model.name || 'agekit',
      inputs: [{ name: inputName, dims: inputDims }],
      outputs: outputNames.map((name, i) => ({ name, dims: outputDims[i] })),
      producerVersion: '0.1.0',
      docString: this.options.docString,
      metadata: { input_layout: layout, ...(flip ? { test_time_flip: 'mean of the image and its left-right mirror' } : {}), ...(this.options.metadata ?? {}) },
    });
    const opCounts: Record<string, number> = {};
    for (const n of this.g.nodes) opCounts[n.opType ?? '?'] = (opCounts[n.opType ?? '?'] ?? 0) + 1;
    return {
      bytes,
      inputName,
      inputLayout: layout,
      inputDims,
      outputNames,
      outputDims,
      opset: OPSET_VERSION,
      irVersion: IR_VERSION,
      opCounts,
      foldedBatchNorms: this.folded,
      removedLayers: this.removed,
    };
  }

  /** Test-time flip, first half: the (NCHW) input becomes Concat(x, x mirrored on W) on the batch axis. */
  private mirrorInput(input: SymbolicTensor, model: tf.LayersModel): void {
    const value = this.values.get(input.id) as Value;
    const width = value.shape[2];
    if (value.shape.length !== 4 || width === null) throw new Error('onnx: test-time flip needs an image input (rank 4, fixed width)');
    for (const t of model.outputs) if (t.shape.length !== 2) throw new Error(`onnx: test-time flip averages vector outputs; ${t.name} has rank ${t.shape.length}`);
    const mirrored = this.g.name('input_mirrored');
    // NCHW width axis 3, from the last column backwards past the first (ends clamp to before index 0)
    const slice = [this.g.int64Initializer('flip_starts', [width - 1]), this.g.int64Initializer('flip_ends', [-width - 1]), this.g.int64Initializer('flip_axes', [3]), this.g.int64Initializer('flip_steps', [-1])];
    this.g.node('Slice', [value.name, ...slice], [mirrored], {}, 'test_time_flip/mirror');
    const both = this.g.name('input_and_mirror');
    this.g.node('Concat', [value.name, mirrored], [both], { axis: 0 }, 'test_time_flip/concat');
    this.values.set(input.id, { name: both, shape: value.shape });
  }

  /** Test-time flip, second half: an output of the 2N batch -> the mean of its image and mirror rows, named `name`. */
  private meanOfPairs(value: Value, name: string): void {
    const pairs = this.g.name(`${name}_pairs`);
    this.g.node('Reshape', [value.name, this.g.int64Initializer(`${name}_pairs_shape`, [2, -1, value.shape[1] ?? 0])], [pairs], {}, `test_time_flip/${name}/pairs`);
    this.g.node('ReduceMean', [pairs], [name], { axes: [0], keepdims: 0 }, `test_time_flip/${name}/mean`);
  }

  private input(node: LayerNode, i = 0): Value {
    const t = node.inputTensors[i];
    const v = this.values.get(t.id);
    if (!v) throw new Error(`onnx: internal error: value ${t.name} not converted yet`);
    return v;
  }

  private setOutput(node: LayerNode, name: string, i = 0): void {
    const t = node.outputTensors[i];
    this.values.set(t.id, { name, shape: t.shape });
  }

  private outName(layer: Layer): string {
    return this.g.name(layer.name);
  }

  private weightsOf(layer: Layer): Array<{ values: Float32Array; shape: number[] }> {
    return layer.getWeights().map((w) => ({ values: Float32Array.from(w.dataSync() as Float32Array), shape: w.shape }));
  }

  private convertLayer(layer: Layer, node: LayerNode, consumerOf: Map<number, { layer: Layer; node: LayerNode }>): void {
    const cls = layer.getClassName();
    const config = layer.getConfig() as Config;
    const fail = (reason: string): never => {
      throw new UnsupportedLayerError(layer.name, cls, reason);
    };
    const rank = node.inputTensors[0].shape.length;
    const requireChannelsLast = (): void => {
      if (config['dataFormat'] !== undefined && config['dataFormat'] !== 'channelsLast') fail(`dataFormat ${String(config['dataFormat'])} (only channelsLast)`);
    };
    const requireRank = (...ranks: number[]): void => {
      if (!ranks.includes(rank)) fail(`input rank ${rank} is not supported (expects ${ranks.join(' or ')})`);
    };

    if (DROPPED_AT_INFERENCE.has(cls)) {
      this.values.set(node.outputTensors[0].id, this.input(node));
      this.removed.push(layer.name);
      return;
    }

    switch (cls) {
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        requireRank(4);
        requireChannelsLast();
        this.convertConvolution(layer, node, config, cls, consumerOf, fail);
        return;
      }
      case 'Dense': {
        requireRank(2);
        const weights = this.weightsOf(layer);
        const [inUnits, units] = weights[0].shape;
        const bias = config['useBias'] ? weights[1].values : new Float32Array(units);
        const x = this.input(node);
        // Gemm with transB=1 and the kernel stored [units, in] (the form OpenCV's importer expects).
        const kernel = new Float32Array(inUnits * units);
        for (let i = 0; i < inUnits; i++) for (let o = 0; o < units; o++) kernel[o * inUnits + i] = weights[0].values[i * units + o];
        const op: LinearOp = {
          weights: kernel,
          bias,
          channels: units,
          channelOf: (i) => Math.floor(i / inUnits),
          emit: (w, b, output) => {
            const wName = this.g.floatInitializer(`${layer.name}/kernel`, [units, inUnits], w);
            const bName = this.g.floatInitializer(`${layer.name}/bias`, [units], b);
            this.g.node('Gemm', [x.name, wName, bName], [output], { alpha: float(1), beta: float(1), transA: 0, transB: 1 }, layer.name);
          },
        };
        this.emitLinear(layer, node, op, String(config['activation'] ?? 'linear'), consumerOf, fail);
        return;
      }
      case 'BatchNormalization': {
        const axis = normalizeAxis(Number(config['axis'] ?? -1), rank);
        if (axis !== rank - 1) fail(`normalization axis ${String(config['axis'])} (only the channel axis -1)`);
        const { gamma, beta, mean, variance } = this.batchNormWeights(layer, config);
        const x = this.input(node);
        const out = this.outName(layer);
        const c = mean.length;
        this.g.node(
          'BatchNormalization',
          [
            x.name,
            this.g.floatInitializer(`${layer.name}/gamma`, [c], gamma),
            this.g.floatInitializer(`${layer.name}/beta`, [c], beta),
            this.g.floatInitializer(`${layer.name}/moving_mean`, [c], mean),
            this.g.floatInitializer(`${layer.name}/moving_variance`, [c], variance),
          ],
          [out],
          { epsilon: float(Number(config['epsilon'] ?? 1e-3)) },
          layer.name,
        );
        this.setOutput(node, out);
        return;
      }
      case 'Activation': {
        const out = this.emitActivation(String(config['activation']), this.input(node).name, rank, layer.name, fail);
        this.setOutput(node, out);
        return;
      }
      case 'ReLU': {
        const maxValue = config['maxValue'];
        const x = this.input(node).name;
        const out = this.outName(layer);
        if (maxValue === null || maxValue === undefined) this.g.node('Relu', [x], [out], {}, layer.name);
        else this.g.node('Clip', [x, this.g.scalar(0), this.g.scalar(Number(maxValue))], [out], {}, layer.name);
        this.setOutput(node, out);
        return;
      }
      case 'LeakyReLU': {
        const out = this.outName(layer);
        this.g.node('LeakyRelu', [this.input(node).name], [out], { alpha: float(Number(config['alpha'] ?? 0.3)) }, layer.name);
        this.setOutput(node, out);
        return;
      }
      case 'ELU': {
        const out = this.outName(layer);
        this.g.node('Elu', [this.input(node).name], [out], { alpha: float(Number(config['alpha'] ?? 1)) }, layer.name);
        this.setOutput(node, out);
        return;
      }
      case 'Softmax': {
        // Note: tfjs's Softmax layer defaults to axis 1 (not -1); the configured axis is mapped to the NCHW graph.
        if (Array.isArray(config['axis'])) fail('softmax over several axes is not supported');
        const axis = normalizeAxis(Number(config['axis'] ?? 1), rank);
        if (axis !== rank - 1) fail(`softmax axis ${String(config['axis'])} (tfjs itself only computes softmax over the last axis)`);
        const out = this.outName(layer);
        this.g.node('Softmax', [this.input(node).name], [out], { axis: rank === 4 ? NHWC_TO_NCHW_AXIS[axis] : axis }, layer.name);
        this.setOutput(node, out);
        return;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        requireRank(4);
        requireChannelsLast();
        const pool = pair(config['poolSize'], [2, 2]);
        const strides = pair(config['strides'], pool);
        const x = this.input(node);
        const pads = this.padsFor(x.shape, pool, strides, [1, 1], String(config['padding'] ?? 'valid'), fail);
        const out = this.outName(layer);
        const attrs: Record<string, number | number[]> = { kernel_shape: pool, strides, pads };
        if (cls === 'AveragePooling2D') attrs['count_include_pad'] = 0;
        this.g.node(cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [x.name], [out], attrs, layer.name);
        this.setOutput(node, out);
        return;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        requireRank(4);
        requireChannelsLast();
        const pooled = this.g.name(`${layer.name}/pool`);
        this.g.node(cls === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [this.input(node).name], [pooled], {}, layer.name);
        if (config['keepDims']) {
          this.setOutput(node, pooled);
        } else {
          const out = this.outName(layer);
          this.g.node('Flatten', [pooled], [out], { axis: 1 }, `${layer.name}/flatten`);
          this.setOutput(node, out);
        }
        return;
      }
      case 'Flatten': {
        const x = this.input(node);
        if (rank === 2) {
          this.setOutput(node, x.name);
          return;
        }
        requireRank(4);
        requireChannelsLast();
        // tfjs flattens in NHWC order: go back to NHWC first (not needed for 1x1 spatial maps).
        let source = x.name;
        const [, h, w] = x.shape;
        if (!(h === 1 && w === 1)) {
          source = this.g.name(`${layer.name}/nhwc`);
          this.g.node('Transpose', [x.name], [source], { perm: [0, 2, 3, 1] }, `${layer.name}/to_nhwc`);
        }
        const out = this.outName(layer);
        this.g.node('Flatten', [source], [out], { axis: 1 }, layer.name);
        this.setOutput(node, out);
        return;
      }
      case 'Concatenate': {
        const axis = normalizeAxis(Number(config['axis'] ?? -1), rank);
        const onnxAxis = rank === 4 ? NHWC_TO_NCHW_AXIS[axis] : axis;
        const out = this.outName(layer);
        this.g.node('Concat', node.inputTensors.map((_, i) => this.input(node, i).name), [out], { axis: onnxAxis }, layer.name);
        this.setOutput(node, out);
        return;
      }
      case 'Add':
      case 'Multiply':
      case 'Subtract':
      case 'Maximum':
      case 'Minimum':
      case 'Average': {
        // equal shapes, or (Multiply/Add, e.g. squeeze-and-excitation's [N,1,1,C] scale of an [N,H,W,C] map) shapes of one
        // rank whose sizes differ only where one of them is 1: ONNX's Mul/Add broadcast those alike in NCHW
        const shapes = node.inputTensors.map((t) => t.shape);
        const broadcastable = (cls === 'Multiply' || cls === 'Add') && shapes.every((shape) => shape.length === shapes[0].length && shape.every((d, k) => d === shapes[0][k] || d === 1 || shapes[0][k] === 1));
        if (new Set(shapes.map((shape) => JSON.stringify(shape))).size !== 1 && !broadcastable) {
          fail(`inputs of different shapes (${shapes.map((shape) => JSON.stringify(shape)).join(', ')}) need broadcasting, which is not supported here`);
        }
        const names = node.inputTensors.map((_, i) => this.input(node, i).name);
        const out = this.outName(layer);
        if (cls === 'Subtract') {
          if (names.length !== 2) fail('Subtract needs exactly two inputs');
          this.g.node('Sub', names, [out], {}, layer.name);
        } else if (cls === 'Maximum' || cls === 'Minimum') {
          this.g.node(cls === 'Maximum' ? 'Max' : 'Min', names, [out], {}, layer.name);
        } else {
          const op = cls === 'Multiply' ? 'Mul' : 'Add';
          let acc = names[0];
          for (let i = 1; i < names.length; i++) {
            const target = i === names.length - 1 && cls !== 'Average' ? out : this.g.name(`${layer.name}/partial`);
            this.g.node(op, [acc, names[i]], [target], {}, `${layer.name}/${i}`);
            acc = target;
          }
          if (cls === 'Average') this.g.node('Mul', [acc, this.g.scalar(1 / names.length)], [out], {}, `${layer.name}/mean`);
        }
        this.setOutput(node, out);
        return;
      }
      case 'Rescaling': {
        const scale = Number(config['scale']);
        const offset = Number(config['offset'] ?? 0);
        const x = this.input(node).name;
        const out = this.outName(layer);
        if (offset === 0) {
          this.g.node('Mul', [x, this.g.scalar(scale)], [out], {}, layer.name);
        } else {
          const scaled = this.g.name(`${layer.name}/scaled`);
          this.g.node('Mul', [x, this.g.scalar(scale)], [scaled], {}, `${layer.name}/scale`);
          this.g.node('Add', [scaled, this.g.scalar(offset)], [out], {}, layer.name);
        }
        this.setOutput(node, out);
        return;
      }
      case 'ZeroPadding2D': {
        requireRank(4);
        requireChannelsLast();
        const p = config['padding'] as number[][];
        const [[top, bottom], [left, right]] = p;
        const out = this.outName(layer);
        const pads = this.g.int64Initializer(`${layer.name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
        this.g.node('Pad', [this.input(node).name, pads], [out], { mode: 'constant' }, layer.name);
        this.setOutput(node, out);
        return;
      }
      default:
        fail('this layer class is not supported by the ONNX exporter');
    }
  }

  private padsFor(
    shape: Array<number | null>,
    kernel: [number, number],
    strides: [number, number],
    dilation: [number, number],
    padding: string,
    fail: (reason: string) => never,
  ): number[] {
    if (padding === 'valid') return [0, 0, 0, 0];
    if (padding !== 'same') return fail(`padding '${padding}' (only 'valid' and 'same')`);
    const [, h, w] = shape;
    if (h === null || w === null) return fail("'same' padding needs a fixed input height and width");
    const [top, bottom] = samePadding(h, kernel[0], strides[0], dilation[0]);
    const [left, right] = samePadding(w, kernel[1], strides[1], dilation[1]);
    return [top, left, bottom, right];
  }

  private batchNormWeights(layer: Layer, config: Config): { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array } {
    const weights = this.weightsOf(layer);
    let k = 0;
    const c = weights[weights.length - 1].values.length;
    const gamma = config['scale'] === false ? new Float32Array(c).fill(1) : weights[k++].values;
    const beta = config['center'] === false ? new Float32Array(c) : weights[k++].values;
    const mean = weights[k++].values;
    const variance = weights[k++].values;
    return { gamma, beta, mean, variance };
  }

  /** The BatchNormalization layer that alone consumes this node's output, when it can be folded in. */
  private foldableBatchNorm(node: LayerNode, consumerOf: Map<number, { layer: Layer; node: LayerNode }>): { layer: Layer; node: LayerNode } | undefined {
    if (!this.fold) return undefined;
    const t = node.outputTensors[0];
    if (this.consumers.get(t.id) !== 1) return undefined;
    const next = consumerOf.get(t.id);
    if (!next || next.layer.getClassName() !== 'BatchNormalization') return undefined;
    const config = next.layer.getConfig() as Config;
    if (normalizeAxis(Number(config['axis'] ?? -1), t.shape.length) !== t.shape.length - 1) return undefined;
    return next;
  }

  /** Emit a linear op, its batch norm folded in when possible, then its fused activation. */
  private emitLinear(
    layer: Layer,
    node: LayerNode,
    op: LinearOp,
    activation: string,
    consumerOf: Map<number, { layer: Layer; node: LayerNode }>,
    fail: (reason: string) => never,
  ): void {
    const rank = node.outputTensors[0].shape.length;
    const bn = activation === 'linear' ? this.foldableBatchNorm(node, consumerOf) : undefined;
    if (bn) {
      const { gamma, beta, mean, variance } = this.batchNormWeights(bn.layer, bn.layer.getConfig() as Config);
      const eps = Number((bn.layer.getConfig() as Config)['epsilon'] ?? 1e-3);
      const scale = new Float64Array(op.channels);
      for (let c = 0; c < op.channels; c++) scale[c] = gamma[c] / Math.sqrt(variance[c] + eps);
      const w = new Float32Array(op.weights.length);
      for (let i = 0; i < w.length; i++) w[i] = op.weights[i] * scale[op.channelOf(i)];
      const b = new Float32Array(op.channels);
      for (let c = 0; c < op.channels; c++) b[c] = (op.bias[c] - mean[c]) * scale[c] + beta[c];
      const out = this.outName(bn.layer);
      op.emit(w, b, out);
      this.skipped.add(bn.layer);
      this.folded.push(bn.layer.name);
      this.values.set(bn.node.outputTensors[0].id, { name: out, shape: bn.node.outputTensors[0].shape });
      return;
    }
    if (activation === 'linear') {
      const out = this.outName(layer);
      op.emit(op.weights, op.bias, out);
      this.setOutput(node, out);
      return;
    }
    const pre = this.g.name(`${layer.name}/linear`);
    op.emit(op.weights, op.bias, pre);
    this.setOutput(node, this.emitActivation(activation, pre, rank, layer.name, fail));
  }

  private convertConvolution(
    layer: Layer,
    node: LayerNode,
    config: Config,
    cls: string,
    consumerOf: Map<number, { layer: Layer; node: LayerNode }>,
    fail: (reason: string) => never,
  ): void {
    const x = this.input(node);
    const kernel = pair(config['kernelSize']);
    const strides = pair(config['strides'], [1, 1]);
    const dilation = pair(config['dilationRate'], [1, 1]);
    if ((strides[0] > 1 || strides[1] > 1) && (dilation[0] > 1 || dilation[1] > 1)) fail('strides > 1 together with dilation > 1');
    const pads = this.padsFor(x.shape, kernel, strides, dilation, String(config['padding'] ?? 'valid'), fail);
    const weights = this.weightsOf(layer);
    const useBias = Boolean(config['useBias'] ?? true);
    const convAttrs = { kernel_shape: kernel, strides, dilations: dilation, pads };
    const activation = String(config['activation'] ?? 'linear');
    const inChannels = x.shape[3] as number;

    let op: LinearOp;
    if (cls === 'Conv2D') {
      const shape = weights[0].shape;
      const co = shape[3];
      const w = hwioToOihw(weights[0].values, shape);
      const per = w.length / co;
      op = {
        weights: w,
        bias: useBias ? weights[1].values : new Float32Array(co),
        channels: co,
        channelOf: (i) => Math.floor(i / per),
        emit: (wv, bv, output) => {
          const wName = this.g.floatInitializer(`${layer.name}/kernel`, [co, shape[2], shape[0], shape[1]], wv);
          const bName = this.g.floatInitializer(`${layer.name}/bias`, [co], bv);
          this.g.node('Conv', [x.name, wName, bName], [output], { ...convAttrs, group: 1 }, layer.name);
        },
      };
    } else if (cls === 'DepthwiseConv2D') {
      const shape = weights[0].shape;
      const co = shape[2] * shape[3];
      const w = depthwiseToOihw(weights[0].values, shape);
      const per = w.length / co;
      op = {
        weights: w,
        bias: useBias ? weights[1].values : new Float32Array(co),
        channels: co,
        channelOf: (i) => Math.floor(i / per),
        emit: (wv, bv, output) => {
          const wName = this.g.floatInitializer(`${layer.name}/depthwise_kernel`, [co, 1, shape[0], shape[1]], wv);
          const bName = this.g.floatInitializer(`${layer.name}/bias`, [co], bv);
          this.g.node('Conv', [x.name, wName, bName], [output], { ...convAttrs, group: inChannels }, layer.name);
        },
      };
    } else {
      // SeparableConv2D: depthwise (strides, padding, dilation; no bias) then a 1x1 pointwise conv with the bias.
      const dShape = weights[0].shape;
      const pShape = weights[1].shape;
      const mid = dShape[2] * dShape[3];
      const co = pShape[3];
      const depthOut = this.g.name(`${layer.name}/depthwise`);
      const dwName = this.g.floatInitializer(`${layer.name}/depthwise_kernel`, [mid, 1, dShape[0], dShape[1]], depthwiseToOihw(weights[0].values, dShape));
      this.g.node('Conv', [x.name, dwName], [depthOut], { ...convAttrs, group: inChannels }, `${layer.name}/depthwise`);
      const w = hwioToOihw(weights[1].values, pShape);
      const per = w.length / co;
      op = {
        weights: w,
        bias: useBias ? weights[2].values : new Float32Array(co),
        channels: co,
        channelOf: (i) => Math.floor(i / per),
        emit: (wv, bv, output) => {
          const wName = this.g.floatInitializer(`${layer.name}/pointwise_kernel`, [co, mid, 1, 1], wv);
          const bName = this.g.floatInitializer(`${layer.name}/bias`, [co], bv);
          this.g.node('Conv', [depthOut, wName, bName], [output], { kernel_shape: [1, 1], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1 }, `${layer.name}/pointwise`);
        },
      };
    }
    this.emitLinear(layer, node, op, activation, consumerOf, fail);
  }

  /** Emit an activation (tfjs serialized name) after `input`; returns the output value name. */
  private emitActivation(activation: string, input: string, rank: number, base: string, fail: (reason: string) => never): string {
    const out = this.g.name(`${base}/${activation}`);
    const simple: Record<string, string> = { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh', softplus: 'Softplus', softsign: 'Softsign', selu: 'Selu' };
    if (activation === 'linear') {
      this.g.node('Identity', [input], [out], {}, `${base}/linear`);
    } else if (simple[activation]) {
      this.g.node(simple[activation], [input], [out], {}, `${base}/${activation}`);
    } else if (activation === 'relu6') {
      this.g.node('Clip', [input, this.g.scalar(0), this.g.scalar(6)], [out], {}, `${base}/relu6`);
    } else if (activation === 'elu') {
      this.g.node('Elu', [input], [out], { alpha: float(1) }, `${base}/elu`);
    } else if (activation === 'hardSigmoid') {
      this.g.node('HardSigmoid', [input], [out], { alpha: float(0.2), beta: float(0.5) }, `${base}/hardSigmoid`);
    } else if (activation === 'softmax' || activation === 'logSoftmax') {
      this.g.node(activation === 'softmax' ? 'Softmax' : 'LogSoftmax', [input], [out], { axis: rank === 4 ? 1 : -1 }, `${base}/${activation}`);
    } else if (activation === 'swish') {
      const s = this.g.name(`${base}/sigmoid`);
      this.g.node('Sigmoid', [input], [s], {}, `${base}/swish_sigmoid`);
      this.g.node('Mul', [input, s], [out], {}, `${base}/swish`);
    } else if (activation === 'mish') {
      const sp = this.g.name(`${base}/softplus`);
      const th = this.g.name(`${base}/tanh`);
      this.g.node('Softplus', [input], [sp], {}, `${base}/mish_softplus`);
      this.g.node('Tanh', [sp], [th], {}, `${base}/mish_tanh`);
      this.g.node('Mul', [input, th], [out], {}, `${base}/mish`);
    } else {
      fail(`activation '${activation}' is not supported`);
    }
    return out;
  }
}

/**
 * Convert a tfjs Layers model to an ONNX ModelProto (opset 13, IR 7).
 * Rank-4 values are NCHW inside the graph; kernels go HWIO -> OIHW; batch norm is folded into the conv/Dense before it.
 * Throws UnsupportedLayerError naming the first layer it cannot express.
 */
export function convertLayersModel(model: tf.LayersModel, options: ConvertOptions = {}): ConvertResult {
  return new Converter(model, options).convert();
}
