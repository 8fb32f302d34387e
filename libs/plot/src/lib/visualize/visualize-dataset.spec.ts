import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage, DatasetError, emptyMetadataRow, METADATA_CSV, OutputPathError, toGrayImage, writeMetadataCsv, type MetadataRow } from '@agekit/dataset';
import { generateSynthDataset } from '@agekit/synth';
import { visualizeDataset } from './visualize-dataset';

jest.setTimeout(120_000);

const FLAG_OF_DEFECT: Record<string, string> = { blurry: 'blurry', noisy: 'noisy', dark: 'dark', bright: 'bright', tiny: 'low_resolution', flat: 'low_texture' };

describe('visualizeDataset', () => {
  let tmp: string;
  let data: string;
  let out: string;
  let flags: Set<string>;

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'plot-visualize-'));
    data = path.join(tmp, 'data');
    out = path.join(tmp, 'out');
    const samples = await generateSynthDataset({ out: data, count: 30, seed: 5, size: 96, defectRate: 0.6, duplicateRate: 0 });
    const rows: MetadataRow[] = [];
    flags = new Set();
    for (const s of samples) {
      const gray = toGrayImage(await decodeImage(path.join(data, s.file), { channels: 3 }));
      let sum = 0;
      let sq = 0;
      for (const v of gray.data) {
        sum += v;
        sq += v * v;
      }
      const mean = sum / gray.data.length;
      const flag = FLAG_OF_DEFECT[s.defect] ?? '';
      if (flag) flags.add(flag);
      rows.push({
        ...emptyMetadataRow(s.file.split(path.sep).join('/')),
        label: String(s.age),
        age: s.age,
        width: gray.width,
        height: gray.height,
        laplacianVariance: flag === 'blurry' ? 40 : flag === 'noisy' ? 2500 : 600,
        meanIntensity: Number(mean.toFixed(2)),
        stdIntensity: Number(Math.sqrt(sq / gray.data.length - mean * mean).toFixed(2)),
        flags: flag ? [flag] : [],
      });
    }
    await writeMetadataCsv(path.join(out, METADATA_CSV), rows);
    // resample's chart, written earlier into the same folder: visualize keeps it
    await fs.mkdir(path.join(out, 'visualizations', 'resample'), { recursive: true });
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).png().toFile(path.join(out, 'visualizations', 'resample', 'chart.png'));
    await fs.writeFile(path.join(out, 'visualizations', 'stale.png'), 'left by an older run');
  });

  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('with data and out alone: writes the figures, contact sheets and index.html with the default thresholds, keeping resample/', async () => {
    const progress: number[] = [];
    const result = await visualizeDataset({ data, out, onProgress: (p) => progress.push(p.done) });
    const viz = path.join(out, 'visualizations');
    expect(result.visualizations).toBe(viz);
    expect([result.images, result.unreadable, result.notRendered, result.warnings]).toEqual([30, 0, 0, []]);
    expect(result.flagged).toBeGreaterThan(0);
    const files = result.figures.map((f) => f.file);
    for (const name of ['age_distribution', 'laplacian_variance', 'mean_intensity', 'std_intensity', 'min_side', 'flag_counts']) {
      expect(files).toContain(`original_image/${name}.png`);
    }
    expect(files.filter((f) => f.startsWith('flagged/')).sort()).toEqual([...flags].map((f) => `flagged/${f}.png`).sort());
    expect(files.some((f) => f.startsWith('processed_image/'))).toBe(false);
    expect(progress[progress.length - 1]).toBe(files.length);
    for (const file of files) {
      const meta = await sharp(path.join(viz, file)).metadata();
      expect(meta.format).toBe('png');
    }
    const html = await fs.readFile(result.index, 'utf8');
    for (const file of [...files, 'resample/chart.png']) expect(html).toContain(`src="${file}"`);
    expect(html).toContain('Thresholds: blurryBelow 100, noisyLaplacianAbove 1000, darkBelow 50, brightAbove 200, lowTextureBelow 10, noisyStdAbove 100, minSide 100 (defaults).');
    // the previous folder is replaced whole except resample's part
    await expect(fs.stat(path.join(viz, 'resample', 'chart.png'))).resolves.toBeTruthy();
    await expect(fs.stat(path.join(viz, 'stale.png'))).rejects.toThrow();
  });

  it('draws the thresholds it is given, the defaults filling the rest', async () => {
    const result = await visualizeDataset({ out, metadata: path.join(out, METADATA_CSV), thresholds: { blurryBelow: 120, minSide: 64 }, sheetSize: 0 });
    const html = await fs.readFile(result.index, 'utf8');
    expect(html).toContain('Thresholds: blurryBelow 120, noisyLaplacianAbove 1000, darkBelow 50, brightAbove 200, lowTextureBelow 10, noisyStdAbove 100, minSide 64 (as given).');
  });

  it('fails before writing when the metadata is missing, or under strict when a row has an error', async () => {
    await expect(visualizeDataset({ out: path.join(tmp, 'nowhere') })).rejects.toThrow(DatasetError);
    const broken = path.join(tmp, 'broken');
    await writeMetadataCsv(path.join(broken, METADATA_CSV), [{ ...emptyMetadataRow('30/x.jpg'), label: '30', age: 30, error: 'corrupt' }]);
    await expect(visualizeDataset({ out: broken, strict: true })).rejects.toThrow(/30\/x\.jpg: corrupt/);
    await expect(fs.stat(path.join(broken, 'visualizations'))).rejects.toThrow();
  });

  it('refuses an out folder that is a file before it reports anything', async () => {
    const file = path.join(tmp, 'afile.txt');
    await fs.writeFile(file, 'user data');
    const onStart = jest.fn();
    const run = visualizeDataset({ out: file, metadata: path.join(out, METADATA_CSV), onStart });
    await expect(run).rejects.toThrow(OutputPathError);
    expect(onStart).not.toHaveBeenCalled();
    expect(await fs.readFile(file, 'utf8')).toBe('user data');
  });
});
