import * as tf from '@tensorflow/tfjs';
import { createRng } from '@agekit/dataset';
import { createLoss, labelDistributionLoss, softTargets, type LossSpec } from './parallel-loss';
import { resolveTask } from './tasks';

/** A softmax layer over `classes` one-year age classes, seeded, on `inputs` features. */
function softmaxModel(inputs: number, classes: number): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [inputs], units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotNormal({ seed: 5 }) })] });
}

function toyBatch(count: number, inputs: number, classes: number): { x: tf.Tensor2D; labels: number[] } {
  const rng = createRng(11);
  const x = tf.tensor2d(Array.from({ length: count * inputs }, () => rng.next() * 2 - 1), [count, inputs]);
  return { x, labels: Array.from({ length: count }, () => Math.floor(rng.next() * classes)) };
}

describe('label-distribution loss (DLDL-v2)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('soft targets sum to 1 and peak at the true age, narrower with a smaller sigma', () => {
    const ages = Array.from({ length: 100 }, (_, i) => i + 1);
    for (const [age, sigma] of [
      [37, 2],
      [1, 2],
      [100, 3],
      [64, 1],
    ]) {
      const target = softTargets(ages, sigma, age);
      expect(target.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 10);
      expect(target.indexOf(Math.max(...target))).toBe(age - 1);
      // symmetric around the true age away from the ends
      if (age > 5 && age < 96) expect(target[age - 2]).toBeCloseTo(target[age], 12);
    }
    // sigma is the standard deviation: one sigma from the true age the density is exp(-1/2) of the peak
    const wide = softTargets(ages, 3, 50);
    expect(wide[49 + 3] / wide[49]).toBeCloseTo(Math.exp(-0.5), 10);
    expect(softTargets(ages, 1, 50)[49]).toBeGreaterThan(wide[49]);
  });

  it('resolves the option against the task: class ages, default expectation weight, refusals', () => {
    const task = resolveTask({ kind: 'classification', minAge: 1, maxAge: 100 });
    expect(labelDistributionLoss(task, undefined)).toBeUndefined();
    const resolved = labelDistributionLoss(task, { sigma: 2 });
    expect(resolved?.ages).toEqual(task.representativeAges);
    expect(resolved).toMatchObject({ sigma: 2, expectationWeight: 1 });
    expect(() => labelDistributionLoss(resolveTask({ kind: 'regression' }, [20, 30]), { sigma: 2 })).toThrow(/classification task/);
    expect(() => labelDistributionLoss(resolveTask({ kind: 'age-group-labels', labels: ['YOUNG', 'OLD'] }), { sigma: 2 })).toThrow(/representative age/);
    expect(() => labelDistributionLoss(task, { sigma: 0 })).toThrow(/sigma/);
  });

  it('off: the one-hot cross-entropy of the true class, class-weighted, exactly as before', () => {
    const classes = 6;
    const model = softmaxModel(4, classes);
    const { x, labels } = toyBatch(9, 4, classes);
    const y = tf.tensor1d(labels, 'int32');
    const weights = [0.5, 1, 2, 1, 1, 3];
    const spec: LossSpec = { classification: true, classes, classWeights: weights, regressionLoss: 'l1', l2: 0 };
    const got = createLoss(model, spec)(x, y).dataSync()[0];
    // the loss before label distributions existed, op for op
    const out = model.apply(x, { training: true }) as tf.Tensor2D;
    const perItem = tf.neg(tf.sum(tf.mul(tf.oneHot(y, classes), tf.log(tf.clipByValue(out, 1e-7, 1))), 1));
    expect(got).toBe(tf.mean(tf.mul(perItem, tf.gather(tf.tensor1d(weights), y))).dataSync()[0]);
    // and the formula it stands for
    const p = out.arraySync();
    const reference = labels.reduce((s, c, i) => s - weights[c] * Math.log(p[i][c]), 0) / labels.length;
    expect(got).toBeCloseTo(reference, 5);
  });

  it('on: cross-entropy to the soft targets plus the weighted L1 of the expected age, a batch mean', () => {
    const ages = [3, 4, 5, 6, 7, 8, 9];
    const model = softmaxModel(5, ages.length);
    const { x, labels } = toyBatch(8, 5, ages.length);
    const y = tf.tensor1d(labels, 'int32');
    const p = (model.predict(x) as tf.Tensor2D).arraySync();
    for (const [sigma, expectationWeight] of [
      [2, 1],
      [1, 0.5],
      [3, 0],
    ]) {
      const spec: LossSpec = { classification: true, classes: ages.length, regressionLoss: 'l1', l2: 0, labelDistribution: { ages, sigma, expectationWeight } };
      const got = createLoss(model, spec)(x, y).dataSync()[0];
      const reference =
        labels.reduce((s, c, i) => {
          const target = softTargets(ages, sigma, ages[c]);
          const crossEntropy = -target.reduce((t, q, k) => t + q * Math.log(p[i][k]), 0);
          const expected = p[i].reduce((t, q, k) => t + q * ages[k], 0);
          return s + crossEntropy + expectationWeight * Math.abs(expected - ages[c]);
        }, 0) / labels.length;
      expect(got).toBeCloseTo(reference, 4);
    }
    // a vanishing sigma gives back the one-hot cross-entropy
    const narrow = createLoss(model, { classification: true, classes: ages.length, regressionLoss: 'l1', l2: 0, labelDistribution: { ages, sigma: 0.05, expectationWeight: 0 } })(x, y).dataSync()[0];
    const oneHot = createLoss(model, { classification: true, classes: ages.length, regressionLoss: 'l1', l2: 0 })(x, y).dataSync()[0];
    expect(narrow).toBeCloseTo(oneHot, 5);
  });

  it('age targets (distillation): the soft target and the L1 centred on each float age, the class-index loss at a class age', () => {
    const ages = [3, 4, 5, 6, 7, 8, 9];
    const model = softmaxModel(5, ages.length);
    const { x, labels } = toyBatch(8, 5, ages.length);
    const p = (model.predict(x) as tf.Tensor2D).arraySync();
    const targetAges = labels.map((c, i) => ages[c] + (i % 3) * 0.37 - 0.2);
    const distribution = { ages, sigma: 1.5, expectationWeight: 0.7 };
    const spec: LossSpec = { classification: true, classes: ages.length, regressionLoss: 'l1', l2: 0, labelDistribution: distribution, ageTargets: true };
    const got = createLoss(model, spec)(x, tf.tensor1d(targetAges)).dataSync()[0];
    const reference =
      targetAges.reduce((s, age, i) => {
        const target = softTargets(ages, distribution.sigma, age);
        const crossEntropy = -target.reduce((t, q, k) => t + q * Math.log(p[i][k]), 0);
        const expected = p[i].reduce((t, q, k) => t + q * ages[k], 0);
        return s + crossEntropy + distribution.expectationWeight * Math.abs(expected - age);
      }, 0) / targetAges.length;
    expect(got).toBeCloseTo(reference, 4);
    // an age that is a class's own age gives the loss of that class index
    const asAges = createLoss(model, spec)(x, tf.tensor1d(labels.map((c) => ages[c]))).dataSync()[0];
    const asClasses = createLoss(model, { ...spec, ageTargets: false })(x, tf.tensor1d(labels, 'int32')).dataSync()[0];
    expect(asAges).toBeCloseTo(asClasses, 5);
    expect(() => createLoss(model, { classification: true, classes: ages.length, regressionLoss: 'l1', l2: 0, ageTargets: true })).toThrow(/labelDistribution/);
    expect(() => createLoss(model, { ...spec, classWeights: ages.map(() => 1) })).toThrow(/class weights/);
  });

  it('its gradient on a toy batch matches a central finite difference', () => {
    const ages = Array.from({ length: 8 }, (_, i) => 20 + i);
    const model = softmaxModel(3, ages.length);
    const { x, labels } = toyBatch(6, 3, ages.length);
    const y = tf.tensor1d(labels, 'int32');
    const loss = createLoss(model, { classification: true, classes: ages.length, regressionLoss: 'l1', l2: 1e-3, labelDistribution: { ages, sigma: 2, expectationWeight: 1 } });
    const kernel = model.trainableWeights[0].read() as tf.Variable;
    const { grads } = tf.variableGrads(() => loss(x, y), [kernel]);
    const analytic = grads[kernel.name].dataSync();
    const values = Float32Array.from(kernel.dataSync());
    const at = (v: Float32Array): number => {
      kernel.assign(tf.tensor(v, kernel.shape));
      return loss(x, y).dataSync()[0];
    };
    const step = 1e-2;
    let largest = 0;
    for (let i = 0; i < values.length; i++) {
      const plus = values.slice();
      plus[i] += step;
      const minus = values.slice();
      minus[i] -= step;
      const numeric = (at(plus) - at(minus)) / (2 * step);
      expect(analytic[i]).toBeCloseTo(numeric, 2);
      largest = Math.max(largest, Math.abs(numeric));
    }
    kernel.assign(tf.tensor(values, kernel.shape));
    // the check means something: the gradient is not near zero
    expect(largest).toBeGreaterThan(0.05);
  });
});
