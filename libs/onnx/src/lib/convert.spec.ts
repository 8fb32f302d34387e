import * as tf from '@tensorflow/tfjs';
import { convertLayersModel, samePadding, UnsupportedLayerError, hwioToOihw, depthwiseToOihw, type InputLayout } from './convert';
import { decodeModel, OPSET_VERSION, IR_VERSION } from './graph';
import { createOnnxSession, runOnnx, runTfjs, checkWithPythonOnnx } from './verify';

type ST = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: ST | ST[]): ST => layer.apply(x) as ST;

beforeAll(async () => {
  await tf.setBackend('cpu'); // exact reference outputs
});

/** Replace every weight by seeded random values (moving variances positive) so batch norm and biases do something. */
function randomizeWeights(model: tf.LayersModel, seed = 1): void {
  const values = model.weights.map((w, i) => {
    const isVariance = w.name.includes('moving_variance');
    const isGamma = w.name.endsWith('gamma');
    return tf.randomUniform(w.shape as number[], isVariance ? 0.3 : isGamma ? 0.5 : -0.5, isVariance ? 2 : isGamma ? 1.5 : 0.5, 'float32', seed * 100 + i);
  });
  model.setWeights(values);
  values.forEach((v) => v.dispose());
}

function randomInput(n: number, shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomUniform([n, ...shape], -1, 1, 'float32', seed).dataSync() as Float32Array).slice();
}

async function maxDiff(model: tf.LayersModel, layout: InputLayout = 'NCHW', n = 3): Promise<{ diff: number; ops: Record<string, number>; folded: string[]; bytes: Uint8Array }> {
  const converted = convertLayersModel(model, { inputLayout: layout });
  const shape = model.inputs[0].shape.slice(1) as number[];
  const x = randomInput(n, shape, 7);
  const expected = runTfjs(model, x, [n, ...shape] as [number, number, number, number]);
  const session = await createOnnxSession(converted.bytes);
  try {
    const inputName = converted.inputName;
    const actual = await runOnnx(session, x, [n, ...shape] as [number, number, number, number], { layout, inputName, outputName: converted.outputNames[0] });
    expect(actual.data.length).toBe(expected.length);
    let diff = 0;
    for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(expected[i] - actual.data[i]));
    return { diff, ops: converted.opCounts, folded: converted.foldedBatchNorms, bytes: converted.bytes };
  } finally {
    await session.release();
  }
}

function imageModel(size: [number, number, number], build: (x: ST) => ST): tf.LayersModel {
  const input = tf.input({ shape: size });
  const model = tf.model({ inputs: input, outputs: build(input) });
  randomizeWeights(model);
  return model;
}

describe('samePadding (TF places the extra pixel at the end)', () => {
  it('matches hand-computed cases', () => {
    expect(samePadding(7, 3, 2)).toEqual([1, 1]);
    expect(samePadding(8, 3, 2)).toEqual([0, 1]);
    expect(samePadding(8, 2, 2)).toEqual([0, 0]);
    expect(samePadding(7, 2, 2)).toEqual([0, 1]);
    expect(samePadding(5, 4, 1)).toEqual([1, 2]);
    expect(samePadding(9, 3, 1, 2)).toEqual([2, 2]);
  });
});

describe('kernel layout', () => {
  it('moves HWIO to OIHW and depthwise [h,w,c,m] to [c*m,1,h,w]', () => {
    const k = Float32Array.from({ length: 2 * 1 * 3 * 4 }, (_, i) => i);
    const o = hwioToOihw(k, [2, 1, 3, 4]);
    // element (h=1, w=0, i=2, o=3) -> index ((3*3+2)*2+1)*1+0
    expect(o[((3 * 3 + 2) * 2 + 1) * 1]).toBe(k[((1 * 1 + 0) * 3 + 2) * 4 + 3]);
    const d = depthwiseToOihw(k, [2, 1, 3, 4]);
    // (h=1, w=0, c=2, m=1) -> out channel 2*4+1
    expect(d[(2 * 4 + 1) * 2 + 1]).toBe(k[(1 * 3 + 2) * 4 + 1]);
  });
});

describe('convertLayersModel: every supported layer matches tfjs (cpu) within 1e-4', () => {
  const cases: Array<[string, () => tf.LayersModel, Partial<{ folded: number; ops: string[] }>]> = [
    [
      'Conv2D same/stride 2 on odd size (asymmetric pads) + fused relu',
      () => imageModel([9, 11, 3], (x) => apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), x)),
      { ops: ['Conv', 'Relu'] },
    ],
    [
      'Conv2D 4x4 same (2 px extra at the end), dilation 2 valid, no bias',
      () =>
        imageModel([10, 10, 2], (x) =>
          apply(tf.layers.conv2d({ filters: 3, kernelSize: 2, dilationRate: 2, useBias: false }), apply(tf.layers.conv2d({ filters: 5, kernelSize: 4, padding: 'same' }), x)),
        ),
      {},
    ],
    [
      'Conv2D + BatchNormalization folded',
      () => imageModel([8, 8, 3], (x) => apply(tf.layers.reLU(), apply(tf.layers.batchNormalization({ epsilon: 0.01 }), apply(tf.layers.conv2d({ filters: 6, kernelSize: 3 }), x)))),
      { folded: 1, ops: ['Conv', 'Relu'] },
    ],
    [
      'DepthwiseConv2D (multiplier 2, same, stride 2) + BN folded + relu6',
      () =>
        imageModel([9, 9, 3], (x) =>
          apply(
            tf.layers.activation({ activation: 'relu6' }),
            apply(tf.layers.batchNormalization(), apply(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same' }), x)),
          ),
        ),
      { folded: 1, ops: ['Conv', 'Clip'] },
    ],
    [
      'SeparableConv2D (multiplier 2) + BN folded, fused tanh',
      () =>
        imageModel([8, 8, 3], (x) =>
          apply(tf.layers.batchNormalization(), apply(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'tanh' }), x)),
        ),
      { folded: 0, ops: ['Conv', 'Tanh', 'BatchNormalization'] },
    ],
    [
      'SeparableConv2D linear + BN folded into the pointwise conv',
      () => imageModel([8, 8, 4], (x) => apply(tf.layers.batchNormalization(), apply(tf.layers.separableConv2d({ filters: 3, kernelSize: 3 }), x))),
      { folded: 1 },
    ],
    [
      'BatchNormalization alone (after a relu conv: not folded) and without scale/center',
      () =>
        imageModel([6, 6, 3], (x) =>
          apply(tf.layers.batchNormalization({ scale: false, center: false }), apply(tf.layers.batchNormalization(), apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), x))),
        ),
      { folded: 0, ops: ['BatchNormalization'] },
    ],
    [
      'MaxPooling2D / AveragePooling2D valid and same (asymmetric pads, padding excluded from averages)',
      () =>
        imageModel([9, 8, 3], (x) => {
          const a = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x);
          const b = apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x);
          const c = apply(tf.layers.concatenate(), [a, b]);
          const d = apply(tf.layers.maxPooling2d({ poolSize: 2, padding: 'valid' }), c);
          const e = apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'valid' }), d);
          return apply(tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' }), e);
        }),
      { ops: ['MaxPool', 'AveragePool', 'Concat', 'Transpose'] },
    ],
    [
      'GlobalAveragePooling2D, GlobalMaxPooling2D, Concatenate on channels, Dense softmax',
      () =>
        imageModel([7, 7, 3], (x) => {
          const c = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), x);
          const g = apply(tf.layers.concatenate({ axis: -1 }), [apply(tf.layers.globalAveragePooling2d({}), c), apply(tf.layers.globalMaxPooling2d({}), c)]);
          return apply(tf.layers.dense({ units: 5, activation: 'softmax' }), g);
        }),
      { ops: ['GlobalAveragePool', 'GlobalMaxPool', 'Gemm', 'Softmax'] },
    ],
    [
      'Concatenate on height and width axes',
      () =>
        imageModel([4, 5, 2], (x) => {
          const c = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), x);
          return apply(tf.layers.concatenate({ axis: 2 }), [apply(tf.layers.concatenate({ axis: 1 }), [x, c]), apply(tf.layers.concatenate({ axis: 1 }), [c, x])]);
        }),
      {},
    ],
    [
      'Add (3 inputs), Multiply, Average, Maximum, Minimum',
      () =>
        imageModel([5, 5, 3], (x) => {
          const a = apply(tf.layers.conv2d({ filters: 3, kernelSize: 1 }), x);
          const b = apply(tf.layers.conv2d({ filters: 3, kernelSize: 1, activation: 'sigmoid' }), x);
          const s = apply(tf.layers.add(), [x, a, b]);
          const m = apply(tf.layers.multiply(), [s, b]);
          const d = apply(tf.layers.average(), [m, a, x]);
          return apply(tf.layers.maximum(), [apply(tf.layers.minimum(), [d, a]), b]);
        }),
      { ops: ['Add', 'Mul', 'Max', 'Min'] },
    ],
    [
      'squeeze-and-excitation: a whole-map AveragePooling2D, 1x1 convs (relu, hardSigmoid), Multiply broadcast over the map, hard-swish',
      () =>
        imageModel([6, 7, 4], (x) => {
          const pooled = apply(tf.layers.averagePooling2d({ poolSize: [6, 7], strides: [6, 7], padding: 'valid' }), x);
          const reduced = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'relu' }), pooled);
          const scale = apply(tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'hardSigmoid' }), reduced);
          const excited = apply(tf.layers.multiply(), [x, scale]);
          const shifted = apply(tf.layers.add(), [scale, excited]);
          return apply(tf.layers.multiply(), [shifted, apply(tf.layers.activation({ activation: 'hardSigmoid' }), shifted)]);
        }),
      { ops: ['AveragePool', 'HardSigmoid', 'Mul', 'Add'] },
    ],
    [
      'Flatten of an HxW>1 map (NHWC order) + Dense relu + Dropout removed + Dense with BN folded',
      () =>
        imageModel([6, 5, 3], (x) => {
          const c = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3 }), x);
          const f = apply(tf.layers.flatten(), c);
          const d = apply(tf.layers.dropout({ rate: 0.5 }), apply(tf.layers.dense({ units: 7, activation: 'relu' }), f));
          return apply(tf.layers.batchNormalization(), apply(tf.layers.dense({ units: 3 }), d));
        }),
      { folded: 1, ops: ['Transpose', 'Flatten', 'Gemm'] },
    ],
    [
      'Rescaling, ZeroPadding2D, LeakyReLU, ELU, ReLU(maxValue), Softmax layer over channels',
      () =>
        imageModel([6, 6, 3], (x) => {
          let y = apply(tf.layers.rescaling({ scale: 1 / 127.5, offset: -1 }), x);
          y = apply(tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }), y);
          y = apply(tf.layers.leakyReLU({ alpha: 0.1 }), apply(tf.layers.conv2d({ filters: 4, kernelSize: 3 }), y));
          y = apply(tf.layers.elu(), y);
          y = apply(tf.layers.reLU({ maxValue: 0.4 }), y);
          return apply(tf.layers.softmax({ axis: -1 }), y);
        }),
      { ops: ['Mul', 'Add', 'Pad', 'LeakyRelu', 'Elu', 'Clip', 'Softmax'] },
    ],
    ...(['sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'softplus', 'softsign', 'hardSigmoid', 'swish', 'mish', 'relu6', 'linear', 'logSoftmax'] as const).map(
      (activation): [string, () => tf.LayersModel, Partial<{ folded: number; ops: string[] }>] => [
        `fused activation '${activation}' in Dense and Conv2D`,
        () =>
          imageModel([5, 5, 2], (x) => {
            // 'logSoftmax' works at run time but is missing from tfjs's ActivationIdentifier type
            const id = activation as 'linear';
            const c = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: id }), x);
            return apply(tf.layers.dense({ units: 4, activation: id }), apply(tf.layers.flatten(), c));
          }),
        {},
      ],
    ),
  ];

  it.each(cases)('%s', async (_name, build, expectation) => {
    const model = build();
    const result = await maxDiff(model);
    expect(result.diff).toBeLessThanOrEqual(1e-4);
    if (expectation.folded !== undefined) expect(result.folded).toHaveLength(expectation.folded);
    for (const op of expectation.ops ?? []) expect(result.ops[op]).toBeGreaterThan(0);
    model.dispose();
  });

  it('accepts an NHWC input (a Transpose first) and a Sequential model', async () => {
    const model = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [7, 7, 3], filters: 4, kernelSize: 3, padding: 'same' }), tf.layers.batchNormalization(), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })],
    });
    randomizeWeights(model, 3);
    const result = await maxDiff(model, 'NHWC');
    expect(result.diff).toBeLessThanOrEqual(1e-4);
    expect(result.folded).toHaveLength(1);
    const proto = decodeModel(result.bytes);
    expect(proto.graph?.node?.[0].opType).toBe('Transpose');
    expect(proto.graph?.input?.[0].type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['N', 7, 7, 3]);
  });

  it('writes opset 13 / IR 7, typed attributes, FLOAT initializers, and keeps a 4-D output in NHWC', async () => {
    const model = imageModel([6, 6, 2], (x) => apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }), x));
    const result = await maxDiff(model);
    expect(result.diff).toBeLessThanOrEqual(1e-4);
    const proto = decodeModel(result.bytes);
    expect(Number(proto.irVersion)).toBe(IR_VERSION);
    expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', OPSET_VERSION]]);
    for (const node of proto.graph?.node ?? []) for (const a of node.attribute ?? []) expect(a.type).toBeGreaterThan(0);
    for (const init of proto.graph?.initializer ?? []) expect(init.dataType).toBe(1);
    expect(proto.graph?.output?.[0].type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['N', 3, 3, 3]);
    const conv = proto.graph?.node?.find((n) => n.opType === 'Conv');
    expect(conv?.attribute?.find((a) => a.name === 'pads')?.ints?.map(Number)).toEqual([0, 0, 1, 1]);
  });

  it('test-time flip in the graph: onnxruntime gives the mean of the tfjs outputs for the image and its mirror', async () => {
    const model = imageModel([6, 5, 3], (x) => {
      const c = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }), x);
      return apply(tf.layers.dense({ units: 2 }), apply(tf.layers.flatten(), c));
    });
    const n = 3;
    const x = randomInput(n, [6, 5, 3], 11);
    const mirrored = tf.tidy(() => tf.reverse(tf.tensor4d(x, [n, 6, 5, 3]), 2).dataSync() as Float32Array).slice();
    const plain = runTfjs(model, x, [n, 6, 5, 3]);
    const mirror = runTfjs(model, mirrored, [n, 6, 5, 3]);
    for (const layout of ['NCHW', 'NHWC'] as const) {
      const converted = convertLayersModel(model, { inputLayout: layout, testTimeFlip: true });
      const session = await createOnnxSession(converted.bytes);
      try {
        const actual = await runOnnx(session, x, [n, 6, 5, 3], { layout, inputName: converted.inputName, outputName: converted.outputNames[0] });
        expect(actual.dims).toEqual([n, 2]);
        let diff = 0;
        let fromPlain = 0;
        for (let i = 0; i < plain.length; i++) {
          diff = Math.max(diff, Math.abs(actual.data[i] - (plain[i] + mirror[i]) / 2));
          fromPlain = Math.max(fromPlain, Math.abs(actual.data[i] - plain[i]));
        }
        expect({ layout, close: diff <= 1e-4 }).toEqual({ layout, close: true });
        expect(fromPlain).toBeGreaterThan(1e-3); // the model is not mirror-symmetric: the flip changes its answer
      } finally {
        await session.release();
      }
      expect(decodeModel(converted.bytes).metadataProps?.map((p) => p.key)).toContain('test_time_flip');
      const report = checkWithPythonOnnx(converted.bytes);
      expect(report.status).not.toBe('failed');
    }
    expect(() => convertLayersModel(imageModel([4, 4, 1], (x) => apply(tf.layers.conv2d({ filters: 1, kernelSize: 1 }), x)), { testTimeFlip: true })).toThrow('averages vector outputs');
    model.dispose();
  });

  it('passes onnx.checker.check_model(full_check=True) when python3-onnx is present', async () => {
    const model = imageModel([8, 8, 3], (x) => {
      const c = apply(tf.layers.batchNormalization(), apply(tf.layers.separableConv2d({ filters: 4, kernelSize: 3, padding: 'same' }), x));
      const p = apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), apply(tf.layers.reLU({ maxValue: 6 }), c));
      const z = apply(tf.layers.zeroPadding2d({ padding: 1 }), p);
      return apply(tf.layers.dense({ units: 3, activation: 'softmax' }), apply(tf.layers.flatten(), z));
    });
    const report = checkWithPythonOnnx(convertLayersModel(model).bytes);
    if (report.status === 'skipped') console.warn(`onnx checker ${report.message}`);
    expect(report.status).not.toBe('failed');
  });
});

describe('unsupported layers', () => {
  it('stops with an error naming the layer and its class', () => {
    const input = tf.input({ shape: [4, 4, 2] });
    const up = tf.layers.upSampling2d({ size: [2, 2], name: 'my_upsample' });
    const model = tf.model({ inputs: input, outputs: apply(up, input) });
    expect(() => convertLayersModel(model)).toThrow(UnsupportedLayerError);
    expect(() => convertLayersModel(model)).toThrow(/my_upsample.*UpSampling2D/);
  });

  it('rejects an unsupported fused activation and a channelsFirst conv', () => {
    const input = tf.input({ shape: [4] });
    const model = tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 2, activation: 'gelu', name: 'dense_gelu' }), input) });
    expect(() => convertLayersModel(model)).toThrow(/dense_gelu.*Dense.*gelu/);
    const image = tf.input({ shape: [3, 4, 4] });
    const cf = tf.layers.conv2d({ filters: 2, kernelSize: 1, dataFormat: 'channelsFirst', name: 'conv_cf' });
    expect(() => convertLayersModel(tf.model({ inputs: image, outputs: apply(cf, image) }))).toThrow(/conv_cf.*Conv2D.*channelsFirst/);
  });
});
