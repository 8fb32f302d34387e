import {
  ageClasses,
  buildDistributionFile,
  classOfAge,
  compactAges,
  distributionFromCounts,
  distributionFromFile,
  parseAgeCountCsv,
  parseDistributionFile,
  uniformDistribution,
} from './distribution';
import { DistributionError } from './errors';

const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);

describe('parseAgeCountCsv', () => {
  it('reads single-year age,count rows, with the last row open-ended on request', () => {
    const parsed = parseAgeCountCsv('age,count\n0,10\n1,20\n2,30\n', 'x.csv', { openEndedLast: true });
    expect(parsed.rows).toEqual([
      { minAge: 0, maxAge: 0, count: 10 },
      { minAge: 1, maxAge: 1, count: 20 },
      { minAge: 2, maxAge: 2, count: 30 },
    ]);
    expect(parsed.openEndedFrom).toBe(2);
    expect(parseAgeCountCsv('age,count\n0,10\n1,20\n').openEndedFrom).toBeUndefined();
    expect(parseAgeCountCsv('age,count\n0,10\n1+,20\n').openEndedFrom).toBe(1);
  });

  it('reads age_min,count groups as ranges up to the next age_min', () => {
    const parsed = parseAgeCountCsv('age_min,count\n0,5\n1,5\n5,40\n10,8\n');
    expect(parsed.rows).toEqual([
      { minAge: 0, maxAge: 0, count: 5 },
      { minAge: 1, maxAge: 4, count: 5 },
      { minAge: 5, maxAge: 9, count: 40 },
      { minAge: 10, maxAge: 10, count: 8 },
    ]);
    expect(parsed.openEndedFrom).toBe(10);
  });

  it('names the source and line of a bad row', () => {
    expect(() => parseAgeCountCsv('age,count\n0,10\n1,abc\n', 'pop.csv')).toThrow(/pop\.csv: line 3: bad count 'abc'/);
    expect(() => parseAgeCountCsv('age,count\n3,10\n2,1\n', 'pop.csv')).toThrow(/line 3: ages must ascend/);
    expect(() => parseAgeCountCsv('age,count\n1,10\n3,1\n', 'pop.csv')).toThrow(/consecutive/);
    expect(() => parseAgeCountCsv('years,people\n1,10\n', 'pop.csv')).toThrow(/expected columns age,count/);
    expect(() => parseAgeCountCsv('age,count\n', 'pop.csv')).toThrow(DistributionError);
  });
});

describe('distributionFromCounts', () => {
  const rows = Array.from({ length: 10 }, (_, a) => ({ minAge: a, maxAge: a, count: a + 1 }));

  it('restricts to the range and renormalises', () => {
    const d = distributionFromCounts(rows, { name: 't', minAge: 2, maxAge: 4 });
    expect(d.classes.map((c) => c.label)).toEqual(['2', '3', '4']);
    // counts 3, 4, 5 of 12
    expect(d.shares[0]).toBeCloseTo(3 / 12, 12);
    expect(d.shares[2]).toBeCloseTo(5 / 12, 12);
    expect(sum(d.shares)).toBeCloseTo(1, 12);
  });

  it('groups into bins (the last may be shorter) and spreads multi-year rows evenly', () => {
    const d = distributionFromCounts(rows, { name: 't', minAge: 0, maxAge: 6, binWidth: 3 });
    expect(d.classes).toEqual([
      { label: '0-2', minAge: 0, maxAge: 2 },
      { label: '3-5', minAge: 3, maxAge: 5 },
      { label: '6', minAge: 6, maxAge: 6 },
    ]);
    expect(d.shares.map((s) => s * 28)).toEqual([6, 15, 7].map((v) => expect.closeTo(v, 9)));
    const grouped = distributionFromCounts([{ minAge: 0, maxAge: 9, count: 100 }], { name: 'g', minAge: 2, maxAge: 3 });
    expect(grouped.shares).toEqual([0.5, 0.5]);
  });

  it('names ages the counts do not cover, and refuses to run past an open-ended row', () => {
    expect(() => distributionFromCounts(rows, { name: 'short', minAge: 5, maxAge: 14 })).toThrow(/short: no count for ages 10-14/);
    expect(() => distributionFromCounts(rows, { name: 'x', minAge: 5, maxAge: 12, openEndedFrom: 9 })).toThrow(/9 and over/);
  });

  it('uniform gives equal shares per year', () => {
    const d = uniformDistribution({ minAge: 20, maxAge: 50 });
    expect(d.classes).toHaveLength(31);
    for (const s of d.shares) expect(s).toBeCloseTo(1 / 31, 12);
    const binned = uniformDistribution({ minAge: 20, maxAge: 29, binWidth: 4 });
    expect(binned.shares.map((s) => s * 10)).toEqual([4, 4, 2].map((v) => expect.closeTo(v, 9)));
  });

  it('builds a file with provenance and reads it back', () => {
    const parsed = parseAgeCountCsv('age,count\n20,10\n21,30\n22,60\n', 'a.csv', { openEndedLast: true });
    const file = buildDistributionFile(parsed, { name: 'n', description: 'd', provenance: { source: 'me', licence: 'CC0' } });
    expect(file.total).toBe(100);
    expect(file.openEndedFrom).toBe(22);
    const d = distributionFromFile(file, { minAge: 21, maxAge: 22 });
    expect(d.shares).toEqual([expect.closeTo(1 / 3, 12), expect.closeTo(2 / 3, 12)]);
    expect(d.provenance?.source).toBe('me');
  });
});

describe('classes', () => {
  it('finds the class of an age', () => {
    const classes = ageClasses({ minAge: 20, maxAge: 29, binWidth: 5 });
    expect(classOfAge(classes, 24)?.label).toBe('20-24');
    expect(classOfAge(classes, 25)?.label).toBe('25-29');
    expect(classOfAge(classes, 30)).toBeUndefined();
  });

  it('compacts age lists', () => {
    expect(compactAges([25, 20, 21, 22, 27, 28])).toBe('20-22, 25, 27-28');
  });
});

describe('parseDistributionFile', () => {
  const good = { name: 'n', description: 'd', provenance: { source: 's' }, total: 3, counts: [{ minAge: 0, maxAge: 0, count: 1 }, { minAge: 1, maxAge: 4, count: 2 }] };

  it('accepts a consistent file and rejects broken ones, naming the source', () => {
    expect(parseDistributionFile(JSON.stringify(good), 'g.json').total).toBe(3);
    expect(() => parseDistributionFile('{', 'g.json')).toThrow(/g\.json: not valid JSON/);
    expect(() => parseDistributionFile(JSON.stringify({ ...good, total: 4 }), 'g.json')).toThrow(/total 4 is not the sum/);
    expect(() => parseDistributionFile(JSON.stringify({ ...good, counts: [good.counts[1], good.counts[0]] }), 'g.json')).toThrow(/counts\[1\]/);
    expect(() => parseDistributionFile(JSON.stringify({ ...good, provenance: {} }), 'g.json')).toThrow(/g\.json.*source/);
  });
});
