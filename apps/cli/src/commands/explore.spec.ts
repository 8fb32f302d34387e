import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';
import { METADATA_COLUMNS, readCsv } from '@agekit/dataset';
import { generateSynthDataset, pngFile } from '@agekit/synth';
import { runCli } from '../main';
import { captureTerminal } from '../lib/terminal.testing';

jest.setTimeout(180_000);

/** A valid, all-black 1-bit grayscale PNG of side x side pixels (small on disk, huge decoded). */
function blackPng(side: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grayscale
  const rowBytes = 1 + Math.ceil(side / 8);
  const idat = deflateSync(Buffer.alloc(rowBytes * side), { level: 1 });
  return pngFile(ihdr, idat);
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe('agekit explore', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-explore-'));
  });
  afterAll(async () => {
    await fs.chmod(path.join(tmp, 'bad', '30', 'locked.jpg'), 0o644).catch(() => undefined);
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('writes the contract columns and flags the synth defects', async () => {
    const data = path.join(tmp, 'synth');
    const samples = await generateSynthDataset({ out: data, count: 30, seed: 21, size: 100, defectRate: 0.8, duplicateRate: 0.1 });
    const cap = captureTerminal(true);
    const code = await runCli(['explore', '--data', data, '--out', path.join(tmp, 'out-synth'), '--json', '--config', path.join(__dirname, '../../../../configs/quality.json')], cap.term);
    expect(code).toBe(0);
    const summary = JSON.parse(cap.stdout());
    expect(summary.images).toBe(30);
    expect(summary.failed).toBe(0);
    const csvFile = path.join(tmp, 'out-synth', 'csv', 'metadata.csv');
    const header = (await fs.readFile(csvFile, 'utf8')).split('\n')[0].split(',');
    expect(header).toEqual([...METADATA_COLUMNS]);
    expect(header.slice(0, 12)).toEqual(['id', 'label', 'age', 'age_group', 'group', 'width', 'height', 'channels', 'format', 'laplacian_variance', 'mean_intensity', 'std_intensity']);
    const rows = new Map((await readCsv(csvFile)).map((r) => [r['id'], r]));
    const rowOf = (id: string): Record<string, string> => rows.get(id) ?? {};
    expect(rows.size).toBe(30);
    const expectedFlag: Record<string, string> = { blurry: 'blurry', dark: 'dark', bright: 'bright', noisy: 'noisy', tiny: 'low_resolution', flat: 'low_texture' };
    const hits: Record<string, [number, number]> = {};
    for (const s of samples) {
      const row = rowOf(s.file);
      expect(row['label']).toBe(String(s.age));
      expect(row['error']).toBe('');
      expect(row['flags'].split(';').filter(Boolean).every((f) => row[`flag_${f}`] === '1')).toBe(true);
      if (s.duplicateOf) {
        expect(row['duplicate_of']).toBe(s.duplicateOf);
        expect(row['flag_duplicate']).toBe('1');
        continue;
      }
      const flag = expectedFlag[s.defect];
      if (!flag) continue;
      hits[s.defect] ??= [0, 0];
      hits[s.defect][1]++;
      if (row[`flag_${flag}`] === '1') hits[s.defect][0]++;
    }
    const total = Object.values(hits).reduce((a, [h, n]) => [a[0] + h, a[1] + n], [0, 0]);
    expect(Object.keys(hits).length).toBeGreaterThanOrEqual(4);
    // each defect kind gets its flag most of the time, and overall at least 80%
    for (const [, [h, n]] of Object.entries(hits)) expect(h / n).toBeGreaterThanOrEqual(0.5);
    expect(total[0] / total[1]).toBeGreaterThanOrEqual(0.8);
  });

  it('lists each bad file with its reason, exits 0, and 1 with --strict', async () => {
    const root = path.join(tmp, 'bad');
    const dir = path.join(root, '30');
    await fs.mkdir(dir, { recursive: true });
    const synth = path.join(tmp, 'one');
    const [sample] = await generateSynthDataset({ out: synth, count: 1, seed: 2, size: 64, defectRate: 0 });
    const jpeg = await fs.readFile(path.join(synth, sample.file));
    await fs.writeFile(path.join(dir, 'good.jpg'), jpeg);
    await fs.writeFile(path.join(dir, 'empty.jpg'), Buffer.alloc(0));
    await fs.writeFile(path.join(dir, 'truncated.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    await fs.writeFile(path.join(dir, 'text.jpg'), 'this is not an image\n');
    await fs.writeFile(path.join(dir, 'huge.png'), blackPng(30000));
    await fs.writeFile(path.join(dir, 'locked.jpg'), jpeg);
    await fs.chmod(path.join(dir, 'locked.jpg'), 0o000);
    const expected: Record<string, RegExp> = {
      '30/empty.jpg': /^empty: /,
      '30/truncated.jpg': /^corrupt: /,
      '30/text.jpg': /^unsupported-format: /,
      '30/huge.png': /^too-large: 30000x30000/,
    };
    if (isRoot) {
      console.warn('explore.spec: running as root, where chmod 000 does not block reads: the unreadable-file case is not checked here (checked manually as a non-root user)');
    } else {
      expected['30/locked.jpg'] = /^unreadable: permission denied/;
    }
    const out = path.join(tmp, 'out-bad');
    const cap = captureTerminal(true);
    expect(await runCli(['explore', '--data', root, '--out', out, '--json'], cap.term)).toBe(0);
    const summary = JSON.parse(cap.stdout());
    const rows = new Map((await readCsv(path.join(out, 'csv', 'metadata.csv'))).map((r) => [r['id'], r]));
    const rowOf = (id: string): Record<string, string> => rows.get(id) ?? {};
    expect(rows.size).toBe(6);
    expect(rowOf('30/good.jpg')['error']).toBe('');
    expect(Number(rowOf('30/good.jpg')['laplacian_variance'])).toBeGreaterThan(0);
    for (const [id, reason] of Object.entries(expected)) {
      const row = rowOf(id);
      expect(row['error']).toMatch(reason);
      expect(row['label']).toBe('30');
      expect(row['laplacian_variance']).toBe('');
      expect(summary.failures.find((f: { id: string }) => f.id === id).message).toMatch(reason);
    }
    expect(summary.failed).toBe(isRoot ? 4 : 5);
    // --strict: the same run fails
    const strict = captureTerminal(true);
    expect(await runCli(['explore', '--data', root, '--out', out, '--json', '--strict'], strict.term)).toBe(1);
    expect(strict.stderr()).toMatch(/--strict: [45] image\(s\) could not be read/);
  });

  const nativeDisabled = process.env['AGEKIT_NO_NATIVE'] === '1';

  it(
    nativeDisabled
      ? 'engines: only the js engine is checked (AGEKIT_NO_NATIVE=1 is set: the native engine is deliberately not used)'
      : 'the native and js engines write byte-identical CSVs (synth faces and the bad-file folder)',
    async () => {
      const run = async (data: string, engine: string, out: string): Promise<{ code: number; summary: Record<string, unknown>; csv: string; stderr: string }> => {
        const cap = captureTerminal(true);
        const code = await runCli(['explore', '--data', data, '--out', out, '--json', '--engine', engine], cap.term);
        const summary = code === 0 ? JSON.parse(cap.stdout()) : {};
        const csv = code === 0 ? await fs.readFile(path.join(out, 'csv', 'metadata.csv'), 'utf8') : '';
        return { code, summary, csv, stderr: cap.stderr() };
      };
      const usage = captureTerminal(true);
      expect(await runCli(['explore', '--data', path.join(tmp, 'synth'), '--out', path.join(tmp, 'engine-bad'), '--engine', 'gpu'], usage.term)).toBe(2);
      expect(usage.stderr()).toMatch(/--engine must be auto, native or js/);
      for (const [name, data] of [
        ['synth', path.join(tmp, 'synth')],
        ['bad', path.join(tmp, 'bad')],
      ]) {
        const js = await run(data, 'js', path.join(tmp, `engine-js-${name}`));
        expect(js.code).toBe(0);
        expect(js.summary['engine']).toBe('js');
        const auto = await run(data, 'auto', path.join(tmp, `engine-auto-${name}`));
        expect(auto.code).toBe(0);
        if (nativeDisabled) {
          expect(auto.summary['engine']).toBe('js');
          expect(String(auto.summary['engineNote'])).toMatch(/AGEKIT_NO_NATIVE/);
          const native = await run(data, 'native', path.join(tmp, `engine-native-${name}`));
          expect(native.code).toBe(1);
          expect(native.stderr).toMatch(/native engine is not available: disabled by AGEKIT_NO_NATIVE=1/);
          continue;
        }
        expect(auto.summary['engine']).toBe('native');
        const native = await run(data, 'native', path.join(tmp, `engine-native-${name}`));
        expect(native.code).toBe(0);
        expect(native.summary['engine']).toBe('native');
        const counts = native.summary['engineCounts'] as { native: number; js: number };
        expect(counts.native + counts.js).toBe(native.summary['images']);
        if (name === 'synth') expect(counts).toEqual({ native: 30, js: 0 });
        // bad folder: good.jpg and locked.jpg by the engine (measured as root, "permission denied" otherwise); empty, truncated, text, PNG by the js path
        if (name === 'bad') expect(counts).toEqual({ native: 2, js: 4 });
        expect(native.csv).toBe(js.csv);
        expect(auto.csv).toBe(js.csv);
        expect(native.summary['failures']).toEqual(js.summary['failures']);
      }
    },
  );
});
