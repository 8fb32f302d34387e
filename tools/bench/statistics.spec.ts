import { median } from './statistics';

describe('median', () => {
  it('the middle value of an odd count, the mean of the two middle ones of an even count, in any order', () => {
    expect(median([3.98, 4.43, 4.08])).toBe(4.08);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('NaN for no values, and the input is left as it was', () => {
    expect(median([])).toBeNaN();
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});
