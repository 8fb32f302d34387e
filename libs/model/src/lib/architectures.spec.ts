import * as tf from '@tensorflow/tfjs';
import { buildModel, countParameters, EXPORTABLE_LAYER_CLASSES } from './architectures';
import { initBackend } from '@agekit/runtime';

describe('architectures', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  // Output channels of the 25 convolutions before conv10 (conv1, then squeeze/expand1x1/expand3x3 of fire2..fire9).
  const BN_CHANNELS = 64 + 2 * (16 + 64 + 64) + 2 * (32 + 128 + 128) + 2 * (48 + 192 + 192) + 2 * (64 + 256 + 256);

  it('squeezenet 1.1 without batch norm has the torchvision parameter count (738,399)', () => {
    const model = buildModel({ architecture: 'squeezenet', size: 64, channels: 3, classes: 31, head: 'classification', batchNorm: false });
    expect(countParameters(model)).toBe(738399); // torchvision squeezenet1_1(num_classes=31), measured by train_torch.py
    expect(model.layers.some((l) => l.getClassName() === 'BatchNormalization')).toBe(false);
    expect(model.outputs[0].shape).toEqual([null, 31]);
    model.dispose();
  });

  it('squeezenet (default, batch norm after each conv but conv10) stays under 1M parameters', () => {
    const model = buildModel({ architecture: 'squeezenet', size: 64, channels: 3, classes: 31, head: 'classification' });
    // each of the 25 convs loses its bias and gains gamma, beta, moving mean and moving variance
    expect(countParameters(model)).toBe(738399 + 3 * BN_CHANNELS);
    expect(countParameters(model)).toBe(747231);
    expect(countParameters(model)).toBeLessThanOrEqual(1_000_000);
    expect(model.layers.filter((l) => l.getClassName() === 'BatchNormalization')).toHaveLength(25);
    model.dispose();
  });

  it('squeezenet learns from scratch: training loss falls well below ln K on an easy task', async () => {
    const K = 4;
    const n = 32;
    const size = 48;
    const labels = Array.from({ length: n }, (_, i) => i % K);
    // class k = noise around a brightness level of its own: easy, so a net that trains at all gets it
    const x = tf.tidy(() => tf.randomNormal([n, size, size, 3], 0, 0.5, 'float32', 7).add(tf.tensor1d(labels.map((k) => k - 1.5)).reshape([n, 1, 1, 1])));
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), K);
    const model = buildModel({ architecture: 'squeezenet', size, channels: 3, classes: K, head: 'classification', seed: 1, dropout: 0 });
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const history = await model.fit(x, y, { epochs: 6, batchSize: 16, shuffle: false, verbose: 0 });
    const losses = history.history['loss'] as number[];
    expect(losses[losses.length - 1]).toBeLessThan(Math.log(K) * 0.7);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('squeezenet regression head has one output and fewer parameters', () => {
    const model = buildModel({ architecture: 'squeezenet', size: 48, channels: 1, classes: 0, head: 'regression' });
    expect(model.outputs[0].shape).toEqual([null, 1]);
    expect(countParameters(model)).toBe(738399 - 64 * 3 * 3 * 2 - 512 * 30 - 30 + 3 * BN_CHANNELS);
    model.dispose();
  });

  it('simple-cnn: 4 conv+pool blocks and a 512-unit dense layer', () => {
    const model = buildModel({ architecture: 'simple-cnn', size: 64, channels: 1, classes: 3, head: 'classification' });
    expect(model.layers.filter((l) => l.getClassName() === 'Conv2D')).toHaveLength(4);
    expect(model.layers.filter((l) => l.getClassName() === 'MaxPooling2D')).toHaveLength(4);
    expect(model.getLayer('dense1').outputShape).toEqual([null, 512]);
    // conv 3x3: 1*32+32, 32*64+64, 64*128+128, 128*128+128 (x9 kernels); dense 4*4*128*512+512; head 512*3+3
    expect(countParameters(model)).toBe(320 + 18_496 + 73_856 + 147_584 + 1_049_088 + 1_539);
    model.dispose();
  });

  it('mobilenet-v3-small: 11 bottlenecks (depthwise, SE in 9, hard-swish), under 1M parameters with a 100-class head', () => {
    const classification = buildModel({ architecture: 'mobilenet-v3-small', size: 128, channels: 3, classes: 100, head: 'classification' });
    const regression = buildModel({ architecture: 'mobilenet-v3-small', size: 128, channels: 3, classes: 0, head: 'regression' });
    const count = (m: tf.LayersModel, cls: string): number => m.layers.filter((l) => l.getClassName() === cls).length;
    expect(count(regression, 'DepthwiseConv2D')).toBe(11);
    // SE: one whole-map average pool and one broadcast multiply per SE block; hard-swish: a multiply too
    expect(regression.layers.filter((l) => /_se_pool$/.test(l.name))).toHaveLength(9);
    expect(regression.layers.filter((l) => /_hswish$/.test(l.name)).length).toBeGreaterThan(10);
    // residual adds where stride 1 keeps the channels: blocks 3, 5, 6, 8, 10, 11
    expect(count(regression, 'Add')).toBe(6);
    expect(regression.getLayer('block1_se_pool').outputShape).toEqual([null, 1, 1, 16]);
    expect(regression.getLayer('last_conv').outputShape).toEqual([null, 4, 4, 576]);
    expect(countParameters(regression)).toBe(939_697);
    // the head: 576 x 100 + 100 instead of 576 + 1
    expect(countParameters(classification)).toBe(939_697 - 577 + 57_700);
    expect(countParameters(classification)).toBeLessThanOrEqual(1_000_000);
    classification.dispose();
    regression.dispose();
  });

  it('uses only layers the ONNX exporter handles, and softmax outputs sum to 1', () => {
    for (const architecture of ['squeezenet', 'simple-cnn', 'mobilenet-v3-small'] as const) {
      const model = buildModel({ architecture, size: 48, channels: 3, classes: 5, head: 'classification', seed: 3 });
      for (const layer of model.layers) expect(EXPORTABLE_LAYER_CLASSES).toContain(layer.getClassName());
      const out = tf.tidy(() => (model.predict(tf.randomNormal([2, 48, 48, 3], 0, 1, 'float32', 1)) as tf.Tensor).sum(1).arraySync() as number[]);
      out.forEach((s) => expect(s).toBeCloseTo(1, 5));
      model.dispose();
    }
  });

  it.each([7, 0])('same seed (%i), same initial weights (seed 0 too: tfjs reads an initializer seed of 0 as none)', (seed) => {
    const a = buildModel({ architecture: 'simple-cnn', size: 32, channels: 3, classes: 4, head: 'classification', seed });
    const b = buildModel({ architecture: 'simple-cnn', size: 32, channels: 3, classes: 4, head: 'classification', seed });
    a.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(b.getWeights()[i].dataSync())));
    a.dispose();
    b.dispose();
  });
});
