import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCsv, writeCsv } from '@agekit/dataset';
// test-only: the synthetic face generator, imported by path as the workspace brief prescribes
import { generateSynthDataset, type SynthSample } from '@agekit/synth';
import { runCli } from '../main';
import { captureTerminal } from '../lib/terminal.testing';

jest.setTimeout(60_000);


async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('agekit resample', () => {
  let dir: string;
  let data: string;
  let config: string;
  let samples: SynthSample[];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-resample-'));
    data = path.join(dir, 'data');
    samples = await generateSynthDataset({ out: data, count: 140, seed: 9, minAge: 20, maxAge: 30, size: 40, defectRate: 0, duplicateRate: 0.12 });
    config = path.join(dir, 'resample.json');
    await fs.writeFile(config, JSON.stringify({ seed: 5, ages: { min: 20, max: 30 }, target: { distribution: 'uniform' }, output: { concurrency: 2 } }));
  });

  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const run = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const t = captureTerminal();
    const code = await runCli(['resample', '--config', config, '--no-chart', ...args], t.term);
    return { code, stdout: t.stdout(), stderr: t.stderr() };
  };

  it('same seed -> byte-identical resampling.csv and files; another seed -> another selection', async () => {
    const a = await run('--data', data, '--out', path.join(dir, 'a'));
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/total variation distance/);
    expect(a.stdout).toMatch(/images\/s/);
    const b = await run('--data', data, '--out', path.join(dir, 'b'));
    const c = await run('--data', data, '--out', path.join(dir, 'c'), '--seed', '6');
    expect([b.code, c.code]).toEqual([0, 0]);
    const csv = (name: string): Promise<Buffer> => fs.readFile(path.join(dir, name, 'csv', 'resampling.csv'));
    expect(Buffer.compare(await csv('a'), await csv('b'))).toBe(0);
    const filesA = await listFiles(path.join(dir, 'a', 'resampled_dataset'));
    expect(filesA).toEqual(await listFiles(path.join(dir, 'b', 'resampled_dataset')));
    for (const f of filesA) {
      const [x, y] = await Promise.all([fs.readFile(path.join(dir, 'a', 'resampled_dataset', f)), fs.readFile(path.join(dir, 'b', 'resampled_dataset', f))]);
      expect(Buffer.compare(x, y)).toBe(0);
    }
    expect((await csv('c')).equals(await csv('a'))).toBe(false);
    const trainSources = async (name: string): Promise<string[]> =>
      (await readCsv(path.join(dir, name, 'csv', 'resampling.csv'))).filter((r) => r['split'] === 'train').map((r) => `${r['source']}|${r['transform']}`).sort();
    expect(await trainSources('c')).not.toEqual(await trainSources('a'));
    // the CSV describes every file written, and each row names a real file
    const rows = await readCsv(path.join(dir, 'a', 'csv', 'resampling.csv'));
    expect(Object.keys(rows[0])).toEqual(['output', 'split', 'source', 'group', 'transform', 'seed', 'age', 'label', 'error']);
    expect(rows.map((r) => r['output'].replace(/^resampled_dataset\//, '')).sort()).toEqual(filesA);
    expect(rows.some((r) => r['transform'].startsWith('rotate('))).toBe(true);
  });

  it('with --metadata: skips failed images and keeps duplicate groups (and their copies) in one split', async () => {
    const metadata = path.join(dir, 'metadata.csv');
    const failedIds = samples.filter((s) => !s.duplicateOf).slice(0, 3).map((s) => s.file);
    await writeCsv(
      metadata,
      samples.map((s) => ({ id: s.file, label: s.age, group: s.file, duplicate_of: s.duplicateOf ?? '', near_duplicate_of: '', error: failedIds.includes(s.file) ? 'corrupt: test' : '' })),
    );
    const r = await run('--data', data, '--out', path.join(dir, 'm'), '--metadata', metadata);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/3 left out/);
    const rows = await readCsv(path.join(dir, 'm', 'csv', 'resampling.csv'));
    expect(rows.filter((row) => failedIds.includes(row['source']))).toEqual([]);
    const splitsOf = (key: 'group' | 'source'): string[][] => {
      const m = new Map<string, Set<string>>();
      for (const row of rows) m.set(row[key], (m.get(row[key]) ?? new Set()).add(row['split']));
      return [...m.entries()].filter(([, s]) => s.size > 1).map(([k, s]) => [k, ...s]);
    };
    expect(splitsOf('source')).toEqual([]);
    expect(splitsOf('group')).toEqual([]);
    // duplicates really share a group (so the check above is about something)
    const groupOf = (id: string): string | undefined => rows.find((row) => row['source'] === id)?.['group'];
    const pairs = samples.filter((s) => s.duplicateOf && groupOf(s.file) !== undefined && groupOf(s.duplicateOf) !== undefined);
    expect(pairs.length).toBeGreaterThan(2);
    for (const s of pairs) expect(groupOf(s.file)).toBe(groupOf(s.duplicateOf ?? ''));
    expect(rows.filter((row) => row['split'] !== 'train' && row['transform'] !== 'copy')).toEqual([]);
  });

  it('names the ages a target asks for that the data has no image of', async () => {
    const r = await run('--data', data, '--out', path.join(dir, 'x'), '--max-age', '33');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the target asks for ages 31-33 but the data has no image of them/);
    await expect(fs.access(path.join(dir, 'x', 'resampled_dataset'))).rejects.toThrow();
  });

  it('an unreadable source file is left out before the split, named with its reason; --strict fails and writes nothing', async () => {
    const copy = path.join(dir, 'with-bad');
    await fs.cp(data, copy, { recursive: true });
    await fs.mkdir(path.join(copy, '31'));
    await fs.cp(path.join(copy, '30'), path.join(copy, '31'), { recursive: true });
    await fs.writeFile(path.join(copy, '31', 'broken.jpg'), 'not a jpeg');
    const r = await run('--data', copy, '--out', path.join(dir, 'bad'), '--max-age', '31');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/left out 31\/broken\.jpg: .*unsupported-format/);
    const rows = await readCsv(path.join(dir, 'bad', 'csv', 'resampling.csv'));
    expect(rows.filter((row) => row['source'] === '31/broken.jpg')).toEqual([]);
    expect(rows.filter((row) => row['source'].startsWith('31/')).length).toBeGreaterThan(0);
    const strict = await run('--data', copy, '--out', path.join(dir, 'bad-strict'), '--max-age', '31', '--strict');
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/--strict: 1 input image.*left out.*nothing written/);
    await expect(fs.access(path.join(dir, 'bad-strict', 'resampled_dataset'))).rejects.toThrow();
  });

  it('refuses to write into the input folder and leaves it untouched', async () => {
    const before = await listFiles(data);
    const r = await run('--data', data, '--out', data);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/resampled_dataset: is inside the input .*choose another --out/);
    expect(await listFiles(data)).toEqual(before);
  });

  it('reads <out>/processed_dataset when it exists, and plans only with --dry-run', async () => {
    const out = path.join(dir, 'p');
    await generateSynthDataset({ out: path.join(out, 'processed_dataset'), count: 40, seed: 2, minAge: 20, maxAge: 30, size: 32, defectRate: 0, duplicateRate: 0 });
    const r = await run('--out', out, '--dry-run', '--target', 'not-majority');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`input: ${path.join(out, 'processed_dataset')}`);
    expect(r.stdout).toMatch(/over-sample not majority/);
    await expect(fs.access(path.join(out, 'resampled_dataset'))).rejects.toThrow();
  });

  it('rejects a config that does not match the schema, naming the file and field', async () => {
    const bad = path.join(dir, 'bad.json');
    await fs.writeFile(bad, JSON.stringify({ ages: { min: 20, max: 30, width: 2 } }));
    const t = captureTerminal();
    const code = await runCli(['resample', '--config', bad, '--data', data, '--out', path.join(dir, 'y')], t.term);
    expect(code).toBe(2);
    expect(t.stderr()).toMatch(/bad\.json \(\/ages\).*unknown field 'width'/);
  });
});
