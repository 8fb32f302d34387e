import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CsvWriter, readCsv, writeCsv } from './csv';
import { copyFileAtomic, writeFileAtomic, isInside } from './files';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-csv-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('CSV', () => {
  it('streams 150,000 rows and reads them back', async () => {
    const file = path.join(dir, 'big.csv');
    function* rows() {
      for (let i = 0; i < 150_000; i++) yield { id: `img_${i}.jpg`, value: i / 3, flag: i % 2 === 0, note: i === 5 ? 'a, "quoted" note' : undefined };
    }
    expect(await writeCsv(file, rows())).toBe(150_000);
    const back = await readCsv(file);
    expect(back).toHaveLength(150_000);
    expect(back[5]).toEqual({ id: 'img_5.jpg', value: String(5 / 3), flag: '0', note: 'a, "quoted" note' });
    expect(back[4].note).toBe('');
  });

  it('leaves no file at the destination until close, and none after abort', async () => {
    const file = path.join(dir, 'out.csv');
    const writer = await CsvWriter.open(file, ['a', 'b']);
    await writer.write({ a: 1, b: 'x' });
    await expect(fs.access(file)).rejects.toThrow();
    await writer.close();
    expect(await fs.readFile(file, 'utf8')).toBe('a,b\n1,x\n');

    const other = path.join(dir, 'aborted.csv');
    const w2 = await CsvWriter.open(other, ['a']);
    await w2.write({ a: 1 });
    await w2.abort();
    expect(await fs.readdir(dir)).toEqual(['out.csv']);
  });

  it('keeps the previous file when a write fails part-way', async () => {
    const file = path.join(dir, 'keep.csv');
    await fs.writeFile(file, 'old\n');
    async function* failing() {
      yield { a: 1 };
      throw new Error('source broke');
    }
    await expect(writeCsv(file, failing())).rejects.toThrow('source broke');
    expect(await fs.readFile(file, 'utf8')).toBe('old\n');
    expect(await fs.readdir(dir)).toEqual(['keep.csv']);
  });
});

describe('files', () => {
  it('writes atomically and creates folders', async () => {
    const file = path.join(dir, 'deep', 'x.bin');
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    expect(Array.from(await fs.readFile(file))).toEqual([1, 2, 3]);
    expect(await fs.readdir(path.dirname(file))).toEqual(['x.bin']);
  });

  it('copies atomically, byte for byte, and leaves nothing behind when the source is missing', async () => {
    const from = path.join(dir, 'src.bin');
    await fs.writeFile(from, new Uint8Array([9, 8, 7]));
    const to = path.join(dir, 'copy', 'dst.bin');
    await copyFileAtomic(from, to);
    expect(Array.from(await fs.readFile(to))).toEqual([9, 8, 7]);
    await expect(copyFileAtomic(path.join(dir, 'missing.bin'), path.join(dir, 'copy', 'x.bin'))).rejects.toThrow();
    expect(await fs.readdir(path.join(dir, 'copy'))).toEqual(['dst.bin']);
  });

  it('knows when a path is inside another', () => {
    expect(isInside('/a/b/c', '/a/b')).toBe(true);
    expect(isInside('/a/b', '/a/b')).toBe(true);
    expect(isInside('/a/bc', '/a/b')).toBe(false);
    expect(isInside('/a', '/a/b')).toBe(false);
  });
});
