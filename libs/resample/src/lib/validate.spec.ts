import { totalVariationDistance, validateResampling } from './validate';
import type { ResamplingPlan } from './plan';

describe('totalVariationDistance', () => {
  it('is 0 for equal distributions, 1 for disjoint ones, and normalises its inputs', () => {
    expect(totalVariationDistance([1, 2, 3], [2, 4, 6])).toBeCloseTo(0, 15);
    expect(totalVariationDistance([1, 0], [0, 5])).toBeCloseTo(1, 15);
    expect(totalVariationDistance([0.5, 0.5], [0.8, 0.2])).toBeCloseTo(0.3, 15);
    expect(() => totalVariationDistance([1], [1, 2])).toThrow(/lengths differ/);
  });
});

describe('validateResampling', () => {
  const plan: ResamplingPlan = {
    strategy: 't',
    total: 10,
    currentTotal: 10,
    rows: [
      { label: '20', targetShare: 0.5, targetCount: 5, currentCount: 2, difference: 3 },
      { label: '21', targetShare: 0.25, targetCount: 3, currentCount: 4, difference: -1 },
      { label: '22', targetShare: 0.25, targetCount: 2, currentCount: 4, difference: -2 },
    ],
  };

  it('reports the TV distance and the largest gap', () => {
    const v = validateResampling(plan, new Map([['20', 2], ['21', 4], ['22', 4]]));
    expect(v.totalVariationDistance).toBeCloseTo(0.3, 12);
    expect(v.largestGap.label).toBe('20');
    expect(v.largestGap.gap).toBeCloseTo(-0.3, 12);
    expect(v.achievedTotal).toBe(10);
    expect(validateResampling(plan, { '20': 6, '21': 3, '22': 3 }).totalVariationDistance).toBeCloseTo(0, 15);
  });

  it('counts classes outside the plan as distance', () => {
    const v = validateResampling(plan, { '20': 10, '21': 5, '22': 5, '60': 20 });
    expect(v.totalVariationDistance).toBeCloseTo(0.5, 12);
  });
});
