import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeImage, PROCESSING_COLUMNS, readCsv, writeCsv, type CsvRow } from '@agekit/dataset';
import { checkQuality, DEFAULT_THRESHOLDS, measureImage } from '@agekit/quality';
import { generateSynthDataset } from '@agekit/synth';
import { runCli } from '../main';
import { captureTerminal } from '../lib/terminal.testing';

// generous: on an idle 2-core machine the suite takes ~10 s; shared CI machines are slower
jest.setTimeout(300_000);


/** sha256 of every file under a folder, by relative path. */
async function checksums(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out[path.relative(root, full)] = createHash('sha256').update(await fs.readFile(full)).digest('hex');
    }
  };
  await walk(root);
  return out;
}

describe('agekit process', () => {
  let tmp: string;
  let data: string;
  let ids: string[];
  const brokenId = () => ids[1];

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-process-'));
    data = path.join(tmp, 'data');
    const samples = await generateSynthDataset({ out: data, count: 10, seed: 7, size: 112, defectRate: 0.5, duplicateRate: 0 });
    ids = samples.map((s) => path.relative(data, path.resolve(data, s.file)).split(path.sep).join('/')).sort();
    await fs.rm(path.join(data, 'manifest.csv'), { force: true });
    // a labels-CSV dataset, so that processed_dataset/labels.csv is written too
    await writeCsv(path.join(data, 'labels.csv'), samples.map((s) => ({ file: path.relative(data, path.resolve(data, s.file)), age: s.age })));
  });

  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  /** A metadata.csv as explore writes it (the columns process reads), one row with an error, one image without a row. */
  async function writeMetadata(out: string): Promise<void> {
    const rows: CsvRow[] = [];
    for (const id of ids.slice(0, -1)) {
      if (id === brokenId()) {
        rows.push({ id, flags: '', error: 'corrupt: pretend explore failed' });
        continue;
      }
      const m = measureImage(await decodeImage(path.join(data, id)));
      rows.push({
        id,
        width: m.width,
        height: m.height,
        laplacian_variance: m.laplacianVariance,
        mean_intensity: m.meanIntensity,
        std_intensity: m.stdIntensity,
        flags: checkQuality(m, DEFAULT_THRESHOLDS).flags.join(';'),
        error: '',
      });
    }
    await writeCsv(path.join(out, 'csv', 'metadata.csv'), rows, ['id', 'width', 'height', 'laplacian_variance', 'mean_intensity', 'std_intensity', 'flags', 'error']);
  }

  it('writes processed_dataset and processing.csv, deterministically, without touching the input', async () => {
    const inputBefore = await checksums(data);
    const outA = path.join(tmp, 'outA');
    const outB = path.join(tmp, 'outB');
    await writeMetadata(outA);
    await writeMetadata(outB);
    const run = async (out: string, threads: string): Promise<{ code: number; threads: number }> => {
      const { term, stdout } = captureTerminal(true);
      const code = await runCli(['process', '--data', data, '--out', out, '--threads', threads, '--json'], term);
      return { code, threads: (JSON.parse(stdout()) as { threads: number }).threads };
    };
    expect(await run(outA, '1')).toEqual({ code: 0, threads: 1 });
    // the second run uses two worker threads: the output must not depend on it
    expect(await run(outB, '2')).toEqual({ code: 0, threads: 2 });
    const a = await checksums(outA);
    expect(a).toEqual(await checksums(outB));
    expect(await checksums(data)).toEqual(inputBefore);

    const text = await fs.readFile(path.join(outA, 'csv', 'processing.csv'), 'utf8');
    expect(text.split('\n')[0]).toBe(PROCESSING_COLUMNS.join(','));
    const rows = await readCsv(path.join(outA, 'csv', 'processing.csv'));
    expect(rows.map((r) => r['id']).sort()).toEqual(ids);
    const byId = new Map(rows.map((r) => [r['id'], r]));
    expect(byId.get(brokenId())?.['status']).toBe('error');
    expect(a[path.join('processed_dataset', ...brokenId().split('/'))]).toBeUndefined();
    const unchanged = rows.filter((r) => r['status'] === 'unchanged');
    const corrected = rows.filter((r) => r['status'] === 'resolved' || r['status'] === 'unresolved');
    expect(unchanged.length).toBeGreaterThan(0);
    expect(corrected.length).toBeGreaterThan(0);
    for (const r of unchanged) {
      // images without flags are byte copies
      expect(a[path.join('processed_dataset', ...r['id'].split('/'))]).toBe(inputBefore[r['id'].split('/').join(path.sep)]);
    }
    for (const r of corrected) {
      expect(r['flags_before']).not.toBe('');
      expect(r['operations']).not.toBe('');
      expect(Number(r['ssim'])).toBeGreaterThan(0);
      // after-metrics are those of the written file
      const m = measureImage(await decodeImage(path.join(outA, 'processed_dataset', r['id'])));
      expect(Number(r['laplacian_variance_after'])).toBeCloseTo(m.laplacianVariance, 3);
      if (r['status'] === 'resolved') expect(r['flags_after']).toBe('');
    }
    // labels.csv of the processed dataset lists the written images only
    const labels = await readCsv(path.join(outA, 'processed_dataset', 'labels.csv'));
    expect(labels.length).toBe(ids.length - 1);
    expect(Object.keys(labels[0])).toEqual(['file', 'age']);
  });

  it('refuses to write inside the input folder', async () => {
    const before = await checksums(data);
    const code = await runCli(['process', '--data', data, '--out', path.join(data, 'out')], captureTerminal().term);
    expect(code).toBe(2);
    expect(await checksums(data)).toEqual(before);
  });

  it('explains a missing metadata.csv', async () => {
    const code = await runCli(['process', '--data', data, '--out', path.join(tmp, 'none')], captureTerminal().term);
    expect(code).toBe(1);
  });
});
