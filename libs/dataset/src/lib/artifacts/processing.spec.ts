import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCsv, writeCsv } from '../csv';
import { DatasetError } from '../errors';
import { PROCESSING_COLUMNS, processingPaths, readProcessingCsv, writeProcessedLabels, writeProcessingCsv, type ProcessingRow } from './processing';

describe('processing artifact', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'processing-artifact-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const measured = { width: 64, height: 48, laplacianVariance: 12.345678, meanIntensity: 40.5, stdIntensity: 9.25 };
  const rows: ProcessingRow[] = [
    { id: 'a/1.jpg', status: 'unchanged', flagsBefore: [], flagsAfter: [], operations: '', before: measured, after: measured, ssim: 1 },
    {
      id: 'a/2.jpg',
      status: 'unresolved',
      flagsBefore: ['dark', 'blurry'],
      flagsAfter: ['blurry'],
      operations: 'gamma(0.8)',
      before: measured,
      after: { ...measured, meanIntensity: 80 },
      ssim: 0.912345,
    },
    { id: 'b/3.png', status: 'error', flagsBefore: [], flagsAfter: [], operations: '', error: 'corrupt: not a PNG', skipped: true },
  ];

  it('places processing.csv and processed_dataset/ under the out folder', () => {
    expect(processingPaths('/x/out')).toEqual({ processedDir: path.join('/x/out', 'processed_dataset'), processingCsv: path.join('/x/out', 'csv', 'processing.csv') });
  });

  it('writes the columns in order and reads back what it wrote (values at 4 decimals)', async () => {
    const file = path.join(dir, 'csv', 'processing.csv');
    await writeProcessingCsv(file, rows);
    expect((await fs.readFile(file, 'utf8')).split('\n')[0]).toBe(PROCESSING_COLUMNS.join(','));
    const back = await readProcessingCsv(file);
    expect(back.map((r) => r.id)).toEqual(['a/1.jpg', 'a/2.jpg', 'b/3.png']);
    expect(back[1]).toEqual({
      id: 'a/2.jpg',
      status: 'unresolved',
      flagsBefore: ['dark', 'blurry'],
      flagsAfter: ['blurry'],
      operations: 'gamma(0.8)',
      before: { ...measured, laplacianVariance: 12.3457 },
      after: { ...measured, laplacianVariance: 12.3457, meanIntensity: 80 },
      ssim: 0.9123,
      error: '',
    });
    // an error row has no measurements and keeps its reason; `skipped` is not a column
    expect(back[2]).toEqual({ id: 'b/3.png', status: 'error', flagsBefore: [], flagsAfter: [], operations: '', before: undefined, after: undefined, ssim: undefined, error: 'corrupt: not a PNG' });
  });

  it('refuses a file without the required columns or with an unknown status', async () => {
    const missing = path.join(dir, 'missing.csv');
    await writeCsv(missing, [{ id: 'x.jpg', status: 'unchanged' }]);
    await expect(readProcessingCsv(missing)).rejects.toThrow(DatasetError);
    await expect(readProcessingCsv(missing)).rejects.toThrow(/missing column\(s\) flags_before/);
    const file = path.join(dir, 'bad.csv');
    await writeProcessingCsv(file, [{ ...rows[0], status: 'improved' as never }]);
    await expect(readProcessingCsv(file)).rejects.toThrow(/row 2: status 'improved'/);
  });

  it("copies a labels CSV's rows (same columns) for the written images only", async () => {
    const data = path.join(dir, 'data');
    await writeCsv(path.join(data, 'labels.csv'), [
      { file: 'images/1.jpg', age_group: 'OLD', extra: 'x' },
      { file: 'images/2.jpg', age_group: 'YOUNG', extra: 'y' },
    ]);
    const processed = path.join(dir, 'out');
    await fs.mkdir(processed);
    expect(await writeProcessedLabels(path.join(data, 'labels.csv'), data, processed, new Set(['images/2.jpg']))).toBe(1);
    expect(await readCsv(path.join(processed, 'labels.csv'))).toEqual([{ file: 'images/2.jpg', age_group: 'YOUNG', extra: 'y' }]);
  });
});
