import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveSplits } from './splits';

describe('resolveSplits', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-splits-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('holdOut (splitting here): every record of the named race, with its group, is in heldout and in no other split', async () => {
    // UTKFace names in a labels CSV (as ../shared/data/utkface): race 2 every third file; a source column pairs files
    const root = path.join(dir, 'utk');
    await fs.mkdir(path.join(root, 'images'), { recursive: true });
    const rows = ['file,age,source'];
    for (let i = 0; i < 90; i++) {
      const name = `images/${20 + (i % 10)}_${i % 2}_${i % 3 === 0 ? 2 : 0}_2017011617452${String(i).padStart(4, '0')}.jpg.chip.jpg`;
      await fs.writeFile(path.join(root, name), 'x');
      rows.push(`${name},${20 + (i % 10)},s${Math.floor(i / 2)}`);
    }
    await fs.writeFile(path.join(root, 'labels.csv'), `${rows.join('\n')}\n`);
    const s = await resolveSplits(root, 1, { train: 0.7, val: 0.15, test: 0.15 }, { holdOut: { field: 'race', values: ['2'] } });
    expect(s.source).toBe('split');
    const heldGroups = new Set(s.heldout.map((r) => r.group));
    // 30 race-2 files in 30 different source pairs: 60 records held out, some of them race 0 (the pair's other file)
    expect(s.heldout).toHaveLength(60);
    expect(s.heldout.filter((r) => r.extra?.['race'] === '2')).toHaveLength(30);
    for (const split of [s.train, s.val, s.test]) expect(split.filter((r) => r.extra?.['race'] === '2' || heldGroups.has(r.group))).toEqual([]);
    expect(s.train.length + s.val.length + s.test.length).toBe(30);
    expect((await resolveSplits(root, 1, { train: 0.7, val: 0.15, test: 0.15 })).heldout).toEqual([]);
  });

  it('split folders: reads heldout/ beside train/val/test when the resample stage wrote one', async () => {
    const root = path.join(dir, 'resampled');
    for (const f of ['train/25/a.jpg', 'val/25/b.jpg', 'heldout/30/c.jpg']) {
      await fs.mkdir(path.dirname(path.join(root, f)), { recursive: true });
      await fs.writeFile(path.join(root, f), 'x');
    }
    const s = await resolveSplits(root, 1, { train: 0.7, val: 0.15, test: 0.15 });
    expect([s.source, s.train.map((r) => r.id), s.val.map((r) => r.id), s.test, s.heldout.map((r) => [r.id, r.age])]).toEqual(['folders', ['25/a.jpg'], ['25/b.jpg'], [], [['30/c.jpg', 30]]]);
  });
});
