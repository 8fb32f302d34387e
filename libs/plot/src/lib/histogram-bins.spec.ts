import { computeHistogram, quantile } from './histogram-bins';

describe('computeHistogram', () => {
  it('counts values per equal-width bin, the maximum in the last bin', () => {
    const h = computeHistogram([0, 0.5, 1, 1.5, 2, 3.9, 4], { bins: 4, min: 0, max: 4 });
    expect(h.edges).toEqual([0, 1, 2, 3, 4]);
    expect(h.counts).toEqual([2, 2, 1, 2]);
    expect(h.below + h.above + h.dropped).toBe(0);
  });

  it('counts values outside the range and non-finite values separately', () => {
    const h = computeHistogram([-1, 0.5, 5, NaN, Infinity], { bins: 2, min: 0, max: 2 });
    expect(h.counts).toEqual([1, 0]);
    expect(h.below).toBe(1);
    expect(h.above).toBe(1);
    expect(h.dropped).toBe(2);
  });

  it('defaults the range to the data and handles a single distinct value', () => {
    expect(computeHistogram([2, 4, 6], { bins: 2 }).edges).toEqual([2, 4, 6]);
    const one = computeHistogram([7, 7, 7], { bins: 3 });
    expect(one.counts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(one.edges[0]).toBeLessThan(7);
    expect(one.edges[3]).toBeGreaterThan(7);
  });

  it('bins geometrically on a log scale and drops values <= 0', () => {
    const h = computeHistogram([1, 5, 10, 50, 100, 0, -3], { bins: 2, min: 1, max: 100, scale: 'log' });
    expect(h.edges[1]).toBeCloseTo(10, 10);
    expect(h.counts).toEqual([2, 3]);
    expect(h.dropped).toBe(2);
  });

  it('puts values exactly on an inner edge in the upper bin', () => {
    const h = computeHistogram([0.1, 0.2, 0.3], { bins: 3, min: 0, max: 0.3 });
    expect(h.counts).toEqual([0, 1, 2]);
    expect(computeHistogram([10], { bins: 2, min: 1, max: 100, scale: 'log' }).counts).toEqual([0, 1]);
  });
});

describe('quantile', () => {
  it('interpolates between sorted finite values', () => {
    expect(quantile([3, 1, 2, NaN], 0.5)).toBe(2);
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(quantile([], 0.5)).toBeNaN();
  });
});
