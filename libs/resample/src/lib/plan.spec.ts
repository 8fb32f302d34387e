import { uniformDistribution, distributionFromCounts } from './distribution';
import { MissingClassesError } from './errors';
import { countByLabel, largestRemainder, planResampling } from './plan';

const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);

describe('largestRemainder', () => {
  it('sums to the total exactly and gives leftovers to the largest remainders', () => {
    expect(largestRemainder([1, 1, 1], 10)).toEqual([4, 3, 3]);
    expect(largestRemainder([0.5, 0.3, 0.2], 7)).toEqual([4, 2, 1]); // quotas 3.5, 2.1, 1.4
    expect(largestRemainder([5, 0, 5], 3)).toEqual([2, 0, 1]);
    expect(largestRemainder([1, 2], 0)).toEqual([0, 0]);
  });

  it('sums to N for many random weightings', () => {
    let x = 12345;
    const rand = (): number => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let t = 0; t < 200; t++) {
      const weights = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => rand());
      const total = Math.floor(rand() * 5000);
      const counts = largestRemainder(weights, total);
      expect(sum(counts)).toBe(total);
      const ws = sum(weights);
      counts.forEach((c, i) => expect(Math.abs(c - (weights[i] / ws) * total)).toBeLessThan(1));
    }
  });
});

describe('planResampling', () => {
  const current = new Map([
    ['20', 50],
    ['21', 30],
    ['22', 20],
  ]);

  it('distribution: target counts follow the shares and sum to N (default: the current total)', () => {
    const plan = planResampling(current, { kind: 'distribution', distribution: uniformDistribution({ minAge: 20, maxAge: 22 }) });
    expect(plan.total).toBe(100);
    expect(plan.rows.map((r) => r.targetCount)).toEqual([34, 33, 33]);
    expect(plan.rows.map((r) => r.difference)).toEqual([-16, 3, 13]);
    expect(plan.rows[0].targetShare).toBeCloseTo(1 / 3, 12);
    const bigger = planResampling(current, { kind: 'distribution', distribution: uniformDistribution({ minAge: 20, maxAge: 22 }) }, { total: 1001 });
    expect(sum(bigger.rows.map((r) => r.targetCount))).toBe(1001);
  });

  it('distribution: classes of the data outside the target get a target of 0', () => {
    const plan = planResampling(new Map([...current, ['60', 5]]), { kind: 'distribution', distribution: uniformDistribution({ minAge: 20, maxAge: 22 }) });
    expect(plan.rows.at(-1)).toEqual({ label: '60', targetShare: 0, targetCount: 0, currentCount: 5, difference: -5 });
    expect(plan.total).toBe(105);
  });

  it('names the ages the target asks for that the data lacks', () => {
    const dist = distributionFromCounts(
      [20, 21, 22, 23, 24].map((a) => ({ minAge: a, maxAge: a, count: 10 })),
      { name: 'wide', minAge: 20, maxAge: 24 },
    );
    expect(() => planResampling(current, { kind: 'distribution', distribution: dist })).toThrow(MissingClassesError);
    expect(() => planResampling(current, { kind: 'distribution', distribution: dist })).toThrow(/ages 23-24 but the data has no image of them/);
    try {
      planResampling(current, { kind: 'distribution', distribution: dist });
    } catch (error) {
      expect((error as MissingClassesError).labels).toEqual(['23', '24']);
    }
    expect(() => planResampling(current, { kind: 'counts', counts: { '30': 4 } })).toThrow(/age 30 but/);
  });

  it('counts: explicit targets, others unchanged', () => {
    const plan = planResampling(current, { kind: 'counts', counts: { '20': 10, '22': 40 } });
    expect(plan.rows.map((r) => [r.label, r.targetCount, r.difference])).toEqual([
      ['20', 10, -40],
      ['21', 30, 0],
      ['22', 40, 20],
    ]);
    expect(plan.total).toBe(80);
    expect(() => planResampling(current, { kind: 'counts', counts: { '20': -1 } })).toThrow(/whole number/);
  });

  it('equalize: imbalanced-learn style class selections', () => {
    const targets = (classes: 'all' | 'not majority' | 'not minority' | 'minority' | 'majority', direction: 'over' | 'under'): number[] =>
      planResampling(current, { kind: 'equalize', classes, direction }).rows.map((r) => r.targetCount);
    expect(targets('not majority', 'over')).toEqual([50, 50, 50]);
    expect(targets('minority', 'over')).toEqual([50, 30, 50]);
    expect(targets('all', 'under')).toEqual([20, 20, 20]);
    expect(targets('not minority', 'under')).toEqual([20, 20, 20]);
    expect(targets('majority', 'under')).toEqual([20, 30, 20]);
    expect(targets('not minority', 'over')).toEqual([50, 50, 20]);
  });

  it('countByLabel counts', () => {
    expect([...countByLabel(['a', 'b', 'a'], (s) => s)]).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
  });
});
