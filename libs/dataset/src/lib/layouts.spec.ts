import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { parse } from 'csv-parse/sync';
import { detectLayout, labelOf, labelsCsvPaths, parseSimpleCsv, parseUtkName, parseUtkNameByPattern, readDataset, UTK_FULL_NAME } from './layouts';
import { DatasetError } from './errors';

let dir: string;
const tiny = (): Promise<Buffer> => sharp({ create: { width: 4, height: 4, channels: 3, background: '#777' } }).jpeg().toBuffer();

async function put(rel: string, bytes?: Buffer | string): Promise<void> {
  const file = path.join(dir, rel);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, bytes ?? (await tiny()));
}

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-layout-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('readDataset', () => {
  it('reads folder-per-label with ages and groups, reporting stray files', async () => {
    await put('20/a.jpg');
    await put('20/b.png');
    await put('31/c.jpeg');
    await put('31/notes.txt', 'ignored: not an image extension');
    await put('stray.jpg');
    const ds = await readDataset(dir);
    expect(ds.layout).toBe('folder-per-label');
    expect(ds.records.map((r) => [r.id, r.age, r.group])).toEqual([
      ['20/a.jpg', 20, '20/a.jpg'],
      ['20/b.png', 20, '20/b.png'],
      ['31/c.jpeg', 31, '31/c.jpeg'],
    ]);
    expect(ds.records[0].file).toBe(path.join(dir, '20', 'a.jpg'));
    expect(ds.problems).toEqual([{ path: 'stray.jpg', code: 'not-in-label-folder', reason: expect.stringContaining('label folder') }]);
  });

  it('reads non-numeric folders as age groups', async () => {
    await put('YOUNG/a.jpg');
    await put('OLD/b.jpg');
    const ds = await readDataset(dir);
    expect(ds.records.map((r) => [r.id, r.age, r.ageGroup, labelOf(r)])).toEqual([
      ['OLD/b.jpg', undefined, 'OLD', 'OLD'],
      ['YOUNG/a.jpg', undefined, 'YOUNG', 'YOUNG'],
    ]);
  });

  it('reads UTKFace names with gender, race and datetime', async () => {
    await put('25_0_1_20170116174525125.jpg.chip.jpg');
    await put('1_1_2_20161219140623097.jpg.chip.jpg');
    await put('bad_name.jpg');
    const ds = await readDataset(dir);
    expect(ds.layout).toBe('utkface');
    expect(ds.records.map((r) => [r.id, r.age, r.extra])).toEqual([
      ['1_1_2_20161219140623097.jpg.chip.jpg', 1, { gender: '1', race: '2', datetime: '20161219140623097' }],
      ['25_0_1_20170116174525125.jpg.chip.jpg', 25, { gender: '0', race: '1', datetime: '20170116174525125' }],
    ]);
    expect(ds.problems.map((p) => p.path)).toEqual(['bad_name.jpg']);
  });

  it('a labels CSV of UTKFace names keeps their gender, race and datetime; a CSV column of the same name wins', async () => {
    await put('images/25_0_2_20170116174525125.jpg.chip.jpg');
    await put('images/30_1_0_20170116174525126.jpg.chip.jpg');
    await put('images/plain.jpg');
    await put('labels.csv', 'file,age\nimages/25_0_2_20170116174525125.jpg.chip.jpg,25\nimages/30_1_0_20170116174525126.jpg.chip.jpg,30\nimages/plain.jpg,40\n');
    const ds = await readDataset(dir);
    expect(ds.records.map((r) => [r.id, r.extra])).toEqual([
      ['images/25_0_2_20170116174525125.jpg.chip.jpg', { gender: '0', race: '2', datetime: '20170116174525125' }],
      ['images/30_1_0_20170116174525126.jpg.chip.jpg', { gender: '1', race: '0', datetime: '20170116174525126' }],
      ['images/plain.jpg', undefined],
    ]);
    await put('labels.csv', 'file,age,race\nimages/25_0_2_20170116174525125.jpg.chip.jpg,25,4\n');
    expect((await readDataset(dir)).records[0].extra).toEqual({ gender: '0', race: '4', datetime: '20170116174525125' });
  });

  it('parses UTK names and rejects others', () => {
    expect(parseUtkName('39_1_20170116174525125.jpg.chip.jpg')?.age).toBe(39);
    expect(parseUtkName('x_1_0.jpg')).toBeUndefined();
    expect(parseUtkName('500_1_0_1.jpg')).toBeUndefined();
  });

  it('reads a labels CSV with ages, paths relative to the CSV, a group column and bad rows', async () => {
    await put('images/a.jpg');
    await put('images/b.jpg');
    await put('images/c.jpg');
    await put('labels.csv', 'file,age,group\nimages/a.jpg,30,s1\nimages/b.jpg,41.0,s1\nimages/c.jpg,abc,s2\nimages/a.jpg,30,s1\n');
    const ds = await readDataset(dir);
    expect(ds.layout).toBe('labels-csv');
    expect(ds.records.map((r) => [r.id, r.age, r.group])).toEqual([
      ['images/a.jpg', 30, 's1'],
      ['images/b.jpg', 41, 's1'],
    ]);
    expect(ds.problems.map((p) => p.reason)).toEqual([expect.stringContaining("'abc'"), expect.stringContaining('duplicate')]);
  });

  it('reads a labels CSV with age groups given elsewhere', async () => {
    await put('imgs/1.jpg');
    const csv = path.join(dir, 'meta', 'groups.csv');
    await put('meta/groups.csv', 'file,age_group\n../imgs/1.jpg,MIDDLE\n');
    const ds = await readDataset(dir, { labelsCsv: csv });
    expect(ds.records).toEqual([expect.objectContaining({ id: 'imgs/1.jpg', ageGroup: 'MIDDLE', group: 'imgs/1.jpg' })]);
  });

  it('names the problem for a missing folder, an empty folder and a CSV without labels', async () => {
    await expect(readDataset(path.join(dir, 'nope'))).rejects.toThrow(/nope: no such folder/);
    await expect(detectLayout(dir)).rejects.toBeInstanceOf(DatasetError);
    await put('labels.csv', 'file,colour\na.jpg,red\n');
    await expect(readDataset(dir)).rejects.toThrow(/labels.csv: no label column/);
  });

  it('takes a custom group function', async () => {
    await put('20/p1_a.jpg');
    await put('20/p1_b.jpg');
    const ds = await readDataset(dir, { groupOf: (r) => r.id.split('/')[1].split('_')[0] });
    expect(ds.records.map((r) => r.group)).toEqual(['p1', 'p1']);
  });
});

describe('parseSimpleCsv (the quote-free fast path of labels CSVs)', () => {
  const csvParse = (text: string): unknown => {
    try {
      return parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
    } catch (error) {
      return `error: ${(error as Error).message}`;
    }
  };

  it('gives exactly what csv-parse gives, or hands the text over to it', () => {
    const texts = [
      'file,age\na.jpg,30\nb/c.jpg,41\n',
      '\ufefffile,age\r\na.jpg,30\r\n\r\nb.jpg, 41 \r\n',
      'file , age\n a.jpg , 7\n\n\nc.jpg,\n',
      'file,age\na.jpg,30', // no final newline
      'file,age\na.jpg,30,extra\n', // ragged: csv-parse's error
      'file,age\na.jpg\n',
      'file,file\na,b\n', // duplicate header
      'file,\na,b\n', // empty header
      'file,age\n"a,b.jpg",30\n', // quotes
      'file,age\ra.jpg,30\r', // lone CRs
      'file,age\n   \na.jpg,1\n', // a blank-looking line
      'file,age\n',
      'file,age,2024,10\na.jpg,30,x,y\n', // integer-like names: row objects list them first
      'file,__proto__,age\na.jpg,x,30\n', // never an own key of a row object
      'file\na.jpg\n\nb.jpg\n', // one column
      'file\na.jpg\n \t \n', // one column, a blank-looking line
      'file,age\r\na.jpg,30\r', // a lone CR at the very end
      'file,age\r\na\r.jpg,30\r\n', // a lone CR inside a line
      'file,age\n\n\na.jpg , 30 \n,\n', // leading blank lines, empty cells
      '\r\nfile,age\r\n\r\na.jpg,30', // CRLF blank lines
    ];
    let fast = 0;
    for (const text of texts) {
      const rows = parseSimpleCsv(text);
      if (rows === undefined) continue;
      fast++;
      expect({ text, rows }).toEqual({ text, rows: csvParse(text) });
    }
    expect(fast).toBeGreaterThanOrEqual(10);
    expect(parseSimpleCsv('file,age\n"a,b.jpg",30\n')).toBeUndefined();
    expect(parseSimpleCsv('file,age\na.jpg,30,extra\n')).toBeUndefined();
  });

  it('resolves ids of plain, ./ and ../ paths the same way', async () => {
    await put('images/a.jpg');
    await put('images/sub/b.jpg');
    await put('other/c.jpg');
    await put('labels.csv', 'file,age\nimages/a.jpg,30\n./images/sub/b.jpg,31\nimages/../other/c.jpg,32\n');
    const ds = await readDataset(dir);
    expect(ds.records.map((r) => [r.id, r.file])).toEqual([
      ['images/a.jpg', path.join(dir, 'images/a.jpg')],
      ['images/sub/b.jpg', path.join(dir, 'images/sub/b.jpg')],
      ['other/c.jpg', path.join(dir, 'other/c.jpg')],
    ]);
  });
});

describe('fast paths give what the general logic gives', () => {
  it('parseUtkName: names of the full UTKFace shape take indexOf, and give what the pattern gives', () => {
    const names = [
      '25_0_1_20170116174525125.jpg.chip.jpg',
      '1_1_2_20161219140623097.jpg.chip.jpg',
      '100_0_0_20170112213500903.jpg.chip.jpg',
      '007_0_1_2017.jpg',
      '25_0_1_2017.JPG',
      '25_0_1_2017.jpeg',
      '25_0_1_2017.png',
      '25_0_1_2017..jpg',
      '25_0_1_2017.chip.PnG',
      '130_1_3_1.jpg',
      '131_1_3_1.jpg', // age out of range
      '1000_1_3_1.jpg', // four digits
      '25_0_1_2017.a\nb.jpg', // a line break: '.' in the pattern refuses it
      '25_0_1_2017.a\u2028b.jpg',
      '25_0_1_2017.png.txt',
      '25_0_1_2017jpg',
      '25_0_1_2017_x.jpg',
      '25_0_1.jpg', // no datetime
      '39_1_20170116174525125.jpg.chip.jpg', // no race
      '25_0_.jpg',
      '25__1_2017.jpg',
      '25_01_1_2017.jpg',
      '25_0_1_.jpg',
      'x_1_0.jpg',
      '_0_1_2017.jpg',
    ];
    expect(names.filter((name) => UTK_FULL_NAME.test(name)).length).toBeGreaterThanOrEqual(10);
    for (const name of names) expect({ name, parsed: parseUtkName(name) }).toStrictEqual({ name, parsed: parseUtkNameByPattern(name) });
  });

  it('labelsCsvPaths: a plain name gives what the general check gives, and never one the general check refuses', async () => {
    const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-layout-outside-'));
    try {
      await fs.writeFile(path.join(outside, 'p.jpg'), 'x');
      await put('images/a.jpg');
      await put('images/sub/b.jpg');
      await put('..x.jpg');
      await put('images/..b.jpg');
      await put('meta/c.jpg');
      await fs.mkdir(path.join(dir, 'images', 'dir.jpg'));
      await fs.symlink('a.jpg', path.join(dir, 'images', 'in.jpg'));
      await fs.symlink(path.join(outside, 'p.jpg'), path.join(dir, 'images', 'out.jpg'));
      await fs.symlink('loop.jpg', path.join(dir, 'images', 'loop.jpg'));
      await fs.symlink('gone.jpg', path.join(dir, 'images', 'dangling.jpg'));
      await fs.symlink(path.join(dir, 'images'), path.join(dir, 'linked-in'));
      await fs.symlink(outside, path.join(dir, 'linked-out'));
      const rels = [
        'images/a.jpg',
        'images/sub/b.jpg',
        'images/dir.jpg',
        'images/missing.jpg',
        'missing/x.jpg',
        '..x.jpg',
        'images/..b.jpg',
        'images/in.jpg',
        'images/out.jpg',
        'images/loop.jpg',
        'images/dangling.jpg',
        'linked-in/a.jpg',
        'linked-out/p.jpg',
        './images/a.jpg',
        'images/./a.jpg',
        'images/../images/a.jpg',
        '../images/a.jpg',
        '../meta/c.jpg',
        '..',
        '.',
        'images//a.jpg',
        'images/a.jpg/',
        'images\\a.jpg',
        path.join(outside, 'p.jpg'),
        'c.jpg',
        'meta',
      ];
      const plainRels = new Set<string>();
      for (const csvFile of [path.join(dir, 'labels.csv'), path.join(dir, 'meta', 'labels.csv'), path.join(outside, 'labels.csv')]) {
        const fast = labelsCsvPaths(csvFile, dir);
        const reference = labelsCsvPaths(csvFile, dir);
        for (const rel of rels) {
          const plain = fast.plain(rel);
          if (plain === undefined) continue;
          plainRels.add(`${path.basename(path.dirname(csvFile))}: ${rel}`);
          expect({ csvFile, rel, place: plain }).toStrictEqual({ csvFile, rel, place: reference.general(rel, 'here') });
        }
      }
      const base = path.basename(dir);
      // the fast path is taken for plain names in listed folders reached without links (missing names included: the
      // reader reports them), never for links, dot segments, other separators, or a CSV outside the dataset
      expect([...plainRels].sort()).toEqual(
        [
          ...['images/a.jpg', 'images/sub/b.jpg', 'images/dir.jpg', 'images/missing.jpg', '..x.jpg', 'images/..b.jpg', 'c.jpg', 'meta'].map((rel) => `${base}: ${rel}`),
          ...['c.jpg', '..x.jpg', 'meta'].map((rel) => `meta: ${rel}`),
        ].sort(),
      );
    } finally {
      await fs.rm(outside, { recursive: true, force: true });
    }
  });

  it('records keep their keys in order: group last, or where a group column put it', async () => {
    await put('images/25_0_2_20170116174525125.jpg.chip.jpg');
    await put('labels.csv', 'file,age\nimages/25_0_2_20170116174525125.jpg.chip.jpg,25\n');
    expect(Object.keys((await readDataset(dir)).records[0])).toEqual(['id', 'file', 'age', 'extra', 'group']);
    await put('labels.csv', 'file,age,source,note\nimages/25_0_2_20170116174525125.jpg.chip.jpg,25,s1,n\n');
    expect(Object.keys((await readDataset(dir)).records[0])).toEqual(['id', 'file', 'age', 'group', 'extra']);
  });
});
