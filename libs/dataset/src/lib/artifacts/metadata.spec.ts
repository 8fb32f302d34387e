import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCsv } from '../csv';
import { DatasetError } from '../errors';
import {
  emptyMetadataRow,
  FLAG_NAMES,
  formatMetadataRow,
  METADATA_COLUMNS,
  METADATA_METRICS,
  readMetadataCsv,
  writeMetadataCsv,
  type MetadataRow,
} from './metadata';

function measured(): MetadataRow {
  const row = emptyMetadataRow('30/a, "b".jpg');
  Object.assign(row, { label: '30', age: 30, group: '30/a, "b".jpg', width: 120, height: 90, channels: 3, format: 'jpeg' });
  METADATA_METRICS.forEach((m, i) => ((row as Record<string, unknown>)[m.name] = m.kind === 'number' ? i + 0.25 : `${i}`.padStart(16, '0')));
  row.duplicateOf = '30/x.jpg;30/y.jpg';
  row.flags = ['blurry', 'near_duplicate'];
  row.reasons = 'blurry: Laplacian variance 0.25 < 100; near_duplicate: of 30/z.jpg';
  return row;
}

describe('metadata.csv contract', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-metadata-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('columns: the record fields, the metric table in order, the duplicate links, a column per flag, reasons, error', () => {
    expect(METADATA_COLUMNS.slice(0, 9)).toEqual(['id', 'label', 'age', 'age_group', 'group', 'width', 'height', 'channels', 'format']);
    expect(METADATA_COLUMNS.slice(9, 9 + METADATA_METRICS.length)).toEqual(METADATA_METRICS.map((m) => m.column));
    expect(METADATA_COLUMNS.slice(9 + METADATA_METRICS.length)).toEqual(['duplicate_of', 'near_duplicate_of', 'flags', ...FLAG_NAMES.map((f) => `flag_${f}`), 'reasons', 'error']);
    expect(new Set(METADATA_COLUMNS).size).toBe(METADATA_COLUMNS.length);
  });

  it('a measured row: one field per column, flags as 1/0, text quoted as CSV needs; it reads back equal', async () => {
    const row = measured();
    const line = formatMetadataRow(row);
    const file = path.join(tmp, 'measured.csv');
    await writeMetadataCsv(file, [row]);
    expect(await fs.readFile(file, 'utf8')).toBe(`${METADATA_COLUMNS.join(',')}\n${line}\n`);
    const [fields] = await readCsv(file);
    expect(Object.keys(fields)).toEqual([...METADATA_COLUMNS]);
    expect(fields['id']).toBe('30/a, "b".jpg');
    expect(fields['age_group']).toBe('');
    expect(fields['laplacian_variance']).toBe('0.25');
    expect(fields['flag_blurry']).toBe('1');
    expect(fields['flag_dark']).toBe('0');
    expect(fields['flags']).toBe('blurry;near_duplicate');
    const [back] = await readMetadataCsv(file);
    expect(back).toEqual(row);
  });

  it('rows back from the file as written (quoted ids with commas, quotes and a line break; NaN fields; all 17 digits)', async () => {
    const quoted = measured();
    const broken = emptyMetadataRow('40/two\nlines.jpg');
    Object.assign(broken, { label: '40', age: 40, group: '40', error: 'corrupt: premature end of data' });
    const odd = measured();
    odd.id = 'plain.jpg';
    odd.laplacianVariance = 1 / 3; // a double that needs all 17 digits
    odd.entropy = NaN;
    const rows = [quoted, broken, odd];
    const file = path.join(tmp, 'round-trip.csv');
    await writeMetadataCsv(file, rows);
    expect(await readMetadataCsv(file)).toEqual(rows);
  });

  it('a row that was not measured: only the record fields and the error, flag columns empty', async () => {
    const row = emptyMetadataRow('40/broken.jpg');
    Object.assign(row, { label: '40', age: 40, group: '40/broken.jpg', error: 'corrupt: premature end of data' });
    const fields = formatMetadataRow(row).split(',');
    expect(fields).toHaveLength(METADATA_COLUMNS.length);
    expect(fields.slice(0, 5)).toEqual(['40/broken.jpg', '40', '40', '', '40/broken.jpg']);
    expect(fields.slice(5, -1).every((f) => f === '')).toBe(true);
    expect(fields[fields.length - 1]).toBe('corrupt: premature end of data');
    const file = path.join(tmp, 'failed.csv');
    await writeMetadataCsv(file, [row]);
    const [back] = await readMetadataCsv(file);
    expect(back).toEqual(row);
    expect(Number.isNaN(back.width)).toBe(true);
  });

  it('readMetadataCsv: a missing file and a missing required column are DatasetErrors naming the file', async () => {
    const missing = path.join(tmp, 'none.csv');
    await expect(readMetadataCsv(missing)).rejects.toThrow(DatasetError);
    await expect(readMetadataCsv(missing)).rejects.toThrow(/none\.csv.*no such metadata file/);
    const partial = path.join(tmp, 'partial.csv');
    await fs.writeFile(partial, 'id,label\n20/a.jpg,20\n');
    await expect(readMetadataCsv(partial, { required: ['id', 'flags', 'error'] })).rejects.toThrow(/missing column\(s\) flags, error/);
    const [row] = await readMetadataCsv(partial);
    expect(row.id).toBe('20/a.jpg');
    expect(row.flags).toEqual([]);
    expect(Number.isNaN(row.laplacianVariance)).toBe(true);
  });
});
