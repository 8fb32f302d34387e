import * as tf from '@tensorflow/tfjs';
import { buildModel, countParameters, EXPORTABLE_LAYER_CLASSES } from './architectures';
import { initBackend } from './backend';

describe('architectures', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('squeezenet 1.1 with 31 classes has the torchvision parameter count (738,399) and stays under 1M', () => {
    const model = buildModel({ architecture: 'squeezenet', size: 64, channels: 3, classes: 31, head: 'classification' });
    expect(countParameters(model)).toBe(738399); // torchvision squeezenet1_1(num_classes=31), measured by train_torch.py
    expect(countParameters(model)).toBeLessThanOrEqual(1_000_000);
    expect(model.outputs[0].shape).toEqual([null, 31]);
    model.dispose();
  });

  it('squeezenet regression head has one output and fewer parameters', () => {
    const model = buildModel({ architecture: 'squeezenet', size: 48, channels: 1, classes: 0, head: 'regression' });
    expect(model.outputs[0].shape).toEqual([null, 1]);
    expect(countParameters(model)).toBe(738399 - 64 * 3 * 3 * 2 - 512 * 30 - 30);
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

  it('uses only layers the ONNX exporter handles, and softmax outputs sum to 1', () => {
    for (const architecture of ['squeezenet', 'simple-cnn'] as const) {
      const model = buildModel({ architecture, size: 48, channels: 3, classes: 5, head: 'classification', seed: 3 });
      for (const layer of model.layers) expect(EXPORTABLE_LAYER_CLASSES).toContain(layer.getClassName());
      const out = tf.tidy(() => (model.predict(tf.randomNormal([2, 48, 48, 3], 0, 1, 'float32', 1)) as tf.Tensor).sum(1).arraySync() as number[]);
      out.forEach((s) => expect(s).toBeCloseTo(1, 5));
      model.dispose();
    }
  });

  it('same seed, same initial weights', () => {
    const a = buildModel({ architecture: 'simple-cnn', size: 32, channels: 3, classes: 4, head: 'classification', seed: 7 });
    const b = buildModel({ architecture: 'simple-cnn', size: 32, channels: 3, classes: 4, head: 'classification', seed: 7 });
    expect(Array.from(a.getWeights()[0].dataSync())).toEqual(Array.from(b.getWeights()[0].dataSync()));
    a.dispose();
    b.dispose();
  });
});
