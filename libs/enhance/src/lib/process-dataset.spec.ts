import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DatasetError, decodeImage, readProcessingCsv, writeCsv, type CsvRow } from '@agekit/dataset';
import { checkQuality, DEFAULT_THRESHOLDS, measureImage } from '@agekit/quality';
import { generateSynthDataset } from '@agekit/synth';
import { processDataset } from './process-dataset';

jest.setTimeout(300_000);

async function checksums(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out[path.relative(root, full).split(path.sep).join('/')] = createHash('sha256').update(await fs.readFile(full)).digest('hex');
    }
  };
  await walk(root);
  return out;
}

describe('processDataset', () => {
  let tmp: string;
  let data: string;
  let ids: string[];

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'enhance-process-'));
    data = path.join(tmp, 'data');
    const samples = await generateSynthDataset({ out: data, count: 12, seed: 3, size: 128, defectRate: 0.5, duplicateRate: 0 });
    await fs.rm(path.join(data, 'manifest.csv'), { force: true });
    ids = samples.map((s) => s.file.split(path.sep).join('/')).sort();
  });

  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  /** metadata.csv as explore writes it (the columns process reads), measured with the default thresholds. */
  async function writeMetadata(out: string): Promise<void> {
    const rows: CsvRow[] = [];
    for (const id of ids) {
      const m = measureImage(await decodeImage(path.join(data, id)));
      const flags = checkQuality(m, DEFAULT_THRESHOLDS).flags.join(';');
      rows.push({ id, width: m.width, height: m.height, laplacian_variance: m.laplacianVariance, mean_intensity: m.meanIntensity, std_intensity: m.stdIntensity, flags, error: '' });
    }
    await writeCsv(path.join(out, 'csv', 'metadata.csv'), rows);
  }

  it('with only data and out: copies clean images, corrects flagged ones on worker threads, and reports what it wrote', async () => {
    const out = path.join(tmp, 'out');
    await writeMetadata(out);
    const inputBefore = await checksums(data);
    const result = await processDataset({ data, out });

    expect(await checksums(data)).toEqual(inputBefore);
    // the default is one thread per core: the worker module must have been found (the thread count is not silently 1)
    expect(result.threads).toBe(Math.min(os.availableParallelism(), ids.length));
    expect(result.processedDir).toBe(path.join(out, 'processed_dataset'));
    expect(result.processingCsv).toBe(path.join(out, 'csv', 'processing.csv'));
    expect(result.rows.map((r) => r.id).sort()).toEqual(ids);

    const csv = await readProcessingCsv(result.processingCsv);
    expect(csv.map((r) => [r.id, r.status, r.operations])).toEqual(result.rows.map((r) => [r.id, r.status, r.operations]));
    const count = (status: string) => csv.filter((r) => r.status === status).length;
    expect([result.images, result.unchanged, result.resolved, result.unresolved, result.errors]).toEqual([ids.length, count('unchanged'), count('resolved'), count('unresolved'), 0]);
    expect(result.unchanged).toBeGreaterThan(0);
    expect(result.resolved + result.unresolved).toBeGreaterThan(0);

    const written = await checksums(result.processedDir);
    expect(Object.keys(written).sort()).toEqual(ids);
    for (const r of csv) {
      if (r.status === 'unchanged') expect(written[r.id]).toBe(inputBefore[r.id]);
      else {
        expect(r.flagsBefore.length).toBeGreaterThan(0);
        expect(r.operations).not.toBe('');
        // the after-measurements are those of the file as written
        const m = measureImage(await decodeImage(path.join(result.processedDir, r.id)));
        expect(r.after?.laplacianVariance).toBeCloseTo(m.laplacianVariance, 3);
      }
    }
    const flagged = csv.filter((r) => r.flagsBefore.includes('dark')).length;
    expect(result.perFlag.dark.flagged).toBe(flagged);
  });

  it('on abort keeps the previous outputs whole and leaves no temporaries', async () => {
    const out = path.join(tmp, 'out');
    const before = await checksums(out);
    const entries = await fs.readdir(out);
    const controller = new AbortController();
    controller.abort(new Error('stopped by the caller'));
    await expect(processDataset({ data, out, threads: 1, signal: controller.signal })).rejects.toThrow('stopped by the caller');
    expect(await checksums(out)).toEqual(before);
    expect(await fs.readdir(out)).toEqual(entries);
  });

  it('needs the metadata of explore', async () => {
    await expect(processDataset({ data, out: path.join(tmp, 'empty') })).rejects.toThrow(DatasetError);
  });
});
