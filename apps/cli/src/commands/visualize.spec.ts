import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage, toGrayImage, writeCsv, type CsvRow } from '@agekit/dataset';
import { generateSynthDataset, type SynthSample } from '@agekit/synth';
import { runCli } from '../main';
import { captureTerminal } from '../lib/terminal.testing';

jest.setTimeout(60_000);


/** Mean, standard deviation and 3x3 Laplacian variance of the grey image (what explore measures). */
async function metrics(file: string): Promise<{ width: number; height: number; mean: number; std: number; lap: number }> {
  const img = toGrayImage(await decodeImage(file, { channels: 3 }));
  const { width: w, height: h, data } = img;
  let sum = 0;
  let sq = 0;
  for (const v of data) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / data.length;
  let ls = 0;
  let lsq = 0;
  let n = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const l = data[i - 1] + data[i + 1] + data[i - w] + data[i + w] - 4 * data[i];
      ls += l;
      lsq += l * l;
      n++;
    }
  }
  return { width: w, height: h, mean, std: Math.sqrt(sq / data.length - mean * mean), lap: n ? lsq / n - (ls / n) ** 2 : 0 };
}

const FLAG_NAMES = ['blurry', 'noisy', 'dark', 'bright', 'low_texture', 'low_resolution'];

describe('agekit visualize', () => {
  let dir: string;
  let data: string;
  let samples: SynthSample[];
  let metadataRows: CsvRow[];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-visualize-'));
    data = path.join(dir, 'data');
    samples = await generateSynthDataset({ out: data, count: 36, seed: 4, minAge: 18, maxAge: 40, size: 64, defectRate: 0.5, duplicateRate: 0 });
    metadataRows = [];
    for (const s of samples) {
      const m = await metrics(path.join(data, s.file));
      const flags = [
        m.lap < 100 && 'blurry',
        m.lap > 1000 && 'noisy',
        m.mean < 50 && 'dark',
        m.mean > 200 && 'bright',
        m.std < 10 && 'low_texture',
        Math.min(m.width, m.height) < 48 && 'low_resolution',
      ].filter((f): f is string => Boolean(f));
      metadataRows.push({
        id: s.file,
        label: String(s.age),
        age: s.age,
        age_group: '',
        group: s.file,
        width: m.width,
        height: m.height,
        channels: 3,
        format: 'jpeg',
        laplacian_variance: m.lap.toFixed(2),
        mean_intensity: m.mean.toFixed(2),
        std_intensity: m.std.toFixed(2),
        duplicate_of: '',
        near_duplicate_of: '',
        flags: flags.join(';'),
        ...Object.fromEntries(FLAG_NAMES.map((f) => [`flag_${f}`, flags.includes(f) ? 1 : 0])),
        reasons: flags.join('; '),
        error: '',
      });
    }
    // An exact copy: its sheet pairs it with the original.
    metadataRows[1] = { ...metadataRows[1], duplicate_of: String(metadataRows[0]['id']), flags: [metadataRows[1]['flags'], 'duplicate'].filter(Boolean).join(';') };
    // A failed image: id/label/group and error filled, metrics empty.
    metadataRows.push({ id: '30/broken.jpg', label: '30', age: 30, group: '30/broken.jpg', flags: '', error: 'corrupt: not a JPEG' });
    // A flagged row whose file is gone: the contact sheet shows a grey tile and a warning.
    metadataRows.push({ id: '25/missing.jpg', label: '25', age: 25, group: '25/missing.jpg', width: 64, height: 64, laplacian_variance: 1, mean_intensity: 100, std_intensity: 30, flags: 'blurry', error: '' });
    const columns = [
      'id', 'label', 'age', 'age_group', 'group', 'width', 'height', 'channels', 'format', 'laplacian_variance', 'mean_intensity', 'std_intensity',
      'duplicate_of', 'near_duplicate_of', 'flags', ...FLAG_NAMES.map((f) => `flag_${f}`), 'reasons', 'error',
    ];
    await writeCsv(path.join(dir, 'out', 'csv', 'metadata.csv'), metadataRows, columns);
  });

  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const run = async (...args: string[]) => {
    const t = captureTerminal(args.includes('--json'));
    const code = await runCli(['visualize', ...args], t.term);
    return { code, stdout: t.stdout(), stderr: t.stderr() };
  };

  it('writes every figure, the flagged contact sheets and an index.html naming them all', async () => {
    const config = path.join(dir, 'quality.json');
    await fs.writeFile(config, JSON.stringify({ layout: 'auto', thresholds: { blurryBelow: 123 } }));
    const out = path.join(dir, 'out');
    const r = await run('--out', out, '--data', data, '--config', config, '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { figures: { file: string; caption: string }[]; thresholds: Record<string, number>; unreadable: number; warnings: string[] };
    expect(result.thresholds.blurryBelow).toBe(123);
    expect(result.thresholds.darkBelow).toBe(50);
    expect(result.unreadable).toBe(1);
    const files = result.figures.map((f) => f.file);
    for (const f of ['age_distribution', 'laplacian_variance', 'mean_intensity', 'std_intensity', 'min_side', 'flag_counts']) {
      expect(files).toContain(`original_image/${f}.png`);
    }
    // One contact sheet per flag present in the CSV.
    const present = [...FLAG_NAMES, 'duplicate'].filter((f) => metadataRows.some((row) => String(row['flags']).split(';').includes(f)));
    expect(present).toContain('duplicate');
    expect(present).toContain('blurry');
    expect(files.filter((f) => f.startsWith('flagged/')).sort()).toEqual(present.map((f) => `flagged/${f}.png`).sort());
    expect(result.warnings.join('\n')).toMatch(/missing\.jpg/);
    expect(result.figures.find((f) => f.file.includes('laplacian'))?.caption).toMatch(/blurry below 123/);
    expect(files.some((f) => f.startsWith('processed_image/'))).toBe(false);

    const viz = path.join(out, 'visualizations');
    const html = await fs.readFile(path.join(viz, 'index.html'), 'utf8');
    for (const f of result.figures) {
      expect(html).toContain(`src="${f.file}"`);
      const { info, data: px } = await sharp(path.join(viz, f.file)).greyscale().raw().toBuffer({ resolveWithObject: true });
      if (f.file.startsWith('original_image/')) expect([info.width, info.height]).toEqual([1200, 800]);
      let s = 0;
      let sq = 0;
      for (const v of px) {
        s += v;
        sq += v * v;
      }
      expect(sq / px.length - (s / px.length) ** 2).toBeGreaterThan(50);
    }
    // No temporary files left behind.
    const all = await fs.readdir(viz, { recursive: true });
    expect(all.filter((f) => /tmp|\.partial/i.test(String(f)))).toEqual([]);
  });

  it('draws before/after figures when processing.csv exists', async () => {
    const out = path.join(dir, 'out');
    const proc = metadataRows
      .filter((row) => !row['error'])
      .map((row, i) => {
        const lap = Number(row['laplacian_variance']);
        const mean = Number(row['mean_intensity']);
        const changed = String(row['flags']) !== '';
        return {
          id: row['id'],
          status: changed ? (i % 3 === 0 ? 'unresolved' : 'resolved') : 'unchanged',
          flags_before: row['flags'],
          flags_after: changed && i % 3 === 0 ? row['flags'] : '',
          operations: changed ? 'unsharp(sigma=1.5,amount=1)' : '',
          laplacian_variance_before: lap,
          laplacian_variance_after: changed ? lap * 3 + 50 : lap,
          mean_intensity_before: mean,
          mean_intensity_after: changed ? Math.min(255, Math.max(60, mean)) : mean,
          std_intensity_before: row['std_intensity'],
          std_intensity_after: row['std_intensity'],
          width_before: row['width'],
          width_after: row['width'],
          height_before: row['height'],
          height_after: row['height'],
          ssim: changed ? 0.9 : 1,
          error: '',
        };
      });
    await writeCsv(path.join(out, 'csv', 'processing.csv'), proc);
    const r = await run('--out', out, '--sheet-size', '0', '--json');
    expect(r.code).toBe(0);
    const files = (JSON.parse(r.stdout) as { figures: { file: string }[] }).figures.map((f) => f.file);
    expect(files).toEqual(
      expect.arrayContaining([
        'processed_image/laplacian_variance_before_after.png',
        'processed_image/mean_intensity_before_after.png',
        'processed_image/std_intensity_before_after.png',
        'processed_image/status.png',
        'processed_image/flags_before_after.png',
      ]),
    );
    expect(files.some((f) => f.startsWith('flagged/'))).toBe(false);
    await fs.rm(path.join(out, 'csv', 'processing.csv'));
  });

  it('fails clearly: missing metadata (1), --strict with an unreadable image (1), a bad threshold in the config (2)', async () => {
    const missing = await run('--out', path.join(dir, 'nowhere'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nowhere\/csv\/metadata\.csv: not found/);

    const strict = await run('--out', path.join(dir, 'out'), '--strict', '--sheet-size', '0');
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/30\/broken\.jpg: corrupt/);

    const bad = path.join(dir, 'bad.json');
    await fs.writeFile(bad, JSON.stringify({ thresholds: { darkBelow: 'fifty' } }));
    const badRun = await run('--out', path.join(dir, 'out'), '--config', bad);
    expect(badRun.code).toBe(2);
    expect(badRun.stderr).toMatch(/bad\.json.*thresholds\/darkBelow/);
  });
});
