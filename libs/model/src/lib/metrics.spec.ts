import { accuracy, argMax, binaryAuc, confusionMatrix, cumulativeScore, macroAucOvr, maeByAgeBand, meanAbsoluteError } from './metrics';

// Fixed arrays; the expected literals were computed with scikit-learn 1.x under /usr/bin/python3:
//   roc_auc_score(y, p, multi_class='ovr', average='macro'), roc_auc_score(y == k, p[:, k]),
//   accuracy_score(y, p.argmax(1)), confusion_matrix(y, p.argmax(1)), mean_absolute_error(a, q), np.mean(|a - q| <= 5).
const y = [0, 1, 2, 2, 1, 0, 2, 1, 0, 1];
const p = [
  [0.7, 0.2, 0.1],
  [0.2, 0.5, 0.3],
  [0.1, 0.3, 0.6],
  [0.3, 0.3, 0.4],
  [0.4, 0.4, 0.2],
  [0.5, 0.25, 0.25],
  [0.2, 0.2, 0.6],
  [0.1, 0.8, 0.1],
  [0.6, 0.3, 0.1],
  [0.3, 0.3, 0.4],
];

describe('metrics against scikit-learn', () => {
  it('macro one-vs-rest AUC', () => {
    const result = macroAucOvr(y, p, 3);
    expect(result.auc).toBeCloseTo(0.9712301587301587, 12); // sklearn
    expect(result.perClass[0]).toBeCloseTo(1.0, 12);
    expect(result.perClass[1]).toBeCloseTo(0.9375, 12);
    expect(result.perClass[2]).toBeCloseTo(0.9761904761904762, 12);
    expect(result.classesScored).toBe(3);
  });

  it('binary AUC with tied scores', () => {
    expect(binaryAuc([true, false, true, true, false, false, true], [0.9, 0.9, 0.3, 0.5, 0.1, 0.5, 0.8])).toBeCloseTo(0.5833333333333334, 12); // sklearn
    expect(binaryAuc([true, true], [0.1, 0.2])).toBeNaN();
  });

  it('skips a class absent from y_true instead of failing', () => {
    const result = macroAucOvr([0, 1, 0, 1], [[0.9, 0.1, 0], [0.2, 0.8, 0], [0.6, 0.4, 0], [0.3, 0.7, 0]], 3);
    expect(result.classesScored).toBe(2);
    expect(result.perClass[2]).toBeNaN();
    expect(result.auc).toBe(1);
  });

  it('accuracy and confusion matrix of the arg-max predictions', () => {
    const predicted = p.map(argMax);
    expect(predicted).toEqual([0, 1, 2, 2, 0, 0, 2, 1, 0, 2]); // numpy argmax (first of ties)
    expect(accuracy(y, predicted)).toBeCloseTo(0.8, 12); // sklearn
    expect(confusionMatrix(y, predicted, 3)).toEqual([
      [3, 0, 0],
      [1, 2, 1],
      [0, 0, 3],
    ]); // sklearn
  });

  it('MAE and CS(5)', () => {
    const a = [23, 30, 41, 25, 50, 33];
    const q = [25.5, 36, 40, 20, 44.9, 33];
    expect(meanAbsoluteError(a, q)).toBeCloseTo(3.266666666666667, 12); // sklearn
    expect(cumulativeScore(a, q, 5)).toBeCloseTo(0.6666666666666666, 12); // numpy
    expect(meanAbsoluteError([1, NaN], [2, 3])).toBe(1);
  });

  it('MAE by age band', () => {
    const bands = maeByAgeBand([23, 30, 41, 25], [25, 36, 40, 20], [20, 30, 40]);
    expect(bands.map((b) => [b.band, b.count, b.mae])).toEqual([
      ['20-29', 2, 3.5],
      ['30-39', 1, 6],
      ['40+', 1, 1],
    ]);
  });
});
