import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { distributionFromFile, parseDistributionFile } from '@agekit/resample';
import { distributionFromCsvText, formatDistributionJson, metaFor } from './build';

const root = path.resolve(__dirname, '../..');
const committed = path.join(root, 'libs/resample/src/lib/distributions/australia-erp-2021.json');
// A copy of the ABS CSV rows (public data, CC BY 4.0) kept beside this test, so it never reads ../shared.
const csvCopy = path.join(__dirname, 'fixtures/australia-erp-2021.csv');

describe('distributions tool', () => {
  it('the committed australia-erp-2021.json is exactly what the tool makes from the CSV', async () => {
    const made = formatDistributionJson(distributionFromCsvText(await fs.readFile(csvCopy, 'utf8'), csvCopy, metaFor(csvCopy)));
    expect(await fs.readFile(committed, 'utf8')).toBe(made);
  });

  it('the committed file is valid, complete (0..100, total 25,685,412) and carries its provenance', async () => {
    const file = parseDistributionFile(await fs.readFile(committed, 'utf8'), committed);
    expect(file.total).toBe(25_685_412);
    expect(file.counts.reduce((s, r) => s + r.count, 0)).toBe(25_685_412);
    expect(file.counts).toHaveLength(101);
    expect(file.openEndedFrom).toBe(100);
    expect(file.provenance.licence).toMatch(/CC BY 4\.0/);
    expect(file.provenance.source).toMatch(/3101\.0.*Table 59/);
    const d = distributionFromFile(file, { minAge: 20, maxAge: 50 });
    expect(d.classes).toHaveLength(31);
    expect(d.shares.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
  });

  it('refuses an unknown CSV without provenance and accepts one with it', () => {
    expect(() => metaFor('/x/mine.csv')).toThrow(/unknown source/);
    const meta = metaFor('/x/mine.csv', { provenance: { source: 'my survey', licence: 'CC0' } });
    const file = distributionFromCsvText('age,count\n20,1\n21,3\n', 'mine.csv', meta);
    expect(file).toMatchObject({ name: 'mine', total: 4, provenance: { source: 'my survey', licence: 'CC0' } });
    expect(JSON.parse(formatDistributionJson(file))).toEqual(file);
  });
});
