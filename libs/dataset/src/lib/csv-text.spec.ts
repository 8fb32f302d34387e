import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CsvWriter, readCsv, type CsvRow } from './csv';
import { csvField, csvLine, CsvTextWriter } from './csv-text';

describe('CsvTextWriter / csvLine (the same bytes as CsvWriter)', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-csv-text-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const columns = ['id', 'label', 'age', 'value', 'flag', 'hash', 'text', 'error'];
  const awkward: CsvRow[] = [
    { id: 'images/a.jpg', label: '25', age: 25, value: 0.1 + 0.2, flag: true, hash: '00ff00ff00ff00ff', text: '', error: '' },
    { id: 'images/with,comma.jpg', label: 'OLD', age: undefined, value: -0, flag: false, hash: '0', text: 'a "quoted" word', error: undefined },
    { id: 'images/line\nbreak.jpg', label: 'x', age: 0, value: 1e-7, flag: 1, hash: '', text: 'carriage\rreturn', error: 'corrupt: bad, very bad' },
    { id: "images/üñí 'code'.jpg", label: ' spaced ', age: 130, value: 123456789.125, flag: 0, hash: 'abc', text: 'semi;colon; and tab\t', error: '"' },
    { id: '=formula', label: '-1', age: -3, value: Number.NaN, flag: undefined, hash: '"""', text: ',', error: '\n' },
    { id: 'big', label: 'L', age: 1e21, value: 2 ** 53 + 2, flag: true, hash: 'e', text: 'x'.repeat(70_000), error: '' },
  ];

  it('formats fields as csv-stringify does (CsvWriter): quoting, escaping, numbers, booleans, empties', async () => {
    const viaWriter = path.join(tmp, 'writer.csv');
    const writer = await CsvWriter.open(viaWriter, columns);
    for (const row of awkward) await writer.write(row);
    await writer.close();

    const viaText = path.join(tmp, 'text.csv');
    const text = await CsvTextWriter.open(viaText, columns);
    for (const row of awkward) await text.writeLine(csvLine(columns.map((c) => row[c])));
    await text.close();

    expect(await fs.readFile(viaText, 'utf8')).toBe(await fs.readFile(viaWriter, 'utf8'));
    // and it reads back
    const back = await readCsv(viaText);
    expect(back.map((r) => r['id'])).toEqual(awkward.map((r) => r['id']));
    expect(back[1]['text']).toBe('a "quoted" word');
  });

  it('quotes only what needs it', () => {
    expect(csvField(undefined)).toBe('');
    expect(csvField(null)).toBe('');
    expect(csvField('')).toBe('');
    expect(csvField(0)).toBe('0');
    expect(csvField(-0)).toBe('0');
    expect(csvField(true)).toBe('1');
    expect(csvField(false)).toBe('0');
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvLine(['a', 1, undefined, 'b,c'])).toBe('a,1,,"b,c"');
  });

  it('writes atomically: nothing at the destination until close, nothing left after abort', async () => {
    const file = path.join(tmp, 'sub', 'atomic.csv');
    const writer = await CsvTextWriter.open(file, ['a', 'b']);
    for (let i = 0; i < 5000; i++) await writer.writeLine(csvLine([i, `row ${i}`]));
    await expect(fs.access(file)).rejects.toThrow();
    await writer.close();
    const lines = (await fs.readFile(file, 'utf8')).split('\n');
    expect(lines[0]).toBe('a,b');
    expect(lines).toHaveLength(5002); // header, 5000 rows, '' after the last line end
    expect(lines[5000]).toBe('4999,row 4999');

    const dropped = path.join(tmp, 'dropped.csv');
    const aborted = await CsvTextWriter.open(dropped, ['a']);
    await aborted.writeLine('1');
    await aborted.abort();
    await expect(fs.access(dropped)).rejects.toThrow();
    expect((await fs.readdir(tmp)).filter((f) => f.includes('dropped'))).toEqual([]);
  });

  it('writeLines writes the bytes of a writeLine per line, across its ~1 MiB chunks and mixed with writeLine', async () => {
    // 30,000 lines of ~60 characters: a little under 2 MiB, so more than one chunk and a part chunk; some with 2-, 3- and
    // 4-byte UTF-8 characters, and one line longer than a chunk (3 bytes per character)
    const lines = Array.from({ length: 30_000 }, (_, i) => csvLine([i, `row ${i}`, 'x'.repeat(i % 97), i % 7 === 0 ? 'é年😀'.repeat(i % 5) : 'a,b']));
    lines.splice(20_000, 0, '年'.repeat(2 ** 20 + 3));
    const one = path.join(tmp, 'one-by-one.csv');
    const each = await CsvTextWriter.open(one, ['a', 'b', 'c', 'd']);
    await each.writeLine('first');
    for (const line of lines) await each.writeLine(line);
    await each.writeLine('last');
    await each.close();
    const many = path.join(tmp, 'many.csv');
    const together = await CsvTextWriter.open(many, ['a', 'b', 'c', 'd']);
    await together.writeLine('first');
    await together.writeLines(lines);
    await together.writeLines([]);
    await together.writeLine('last');
    await together.close();
    const expected = await fs.readFile(one, 'utf8');
    expect(expected.length).toBeGreaterThan(1.5 * 2 ** 20);
    expect(await fs.readFile(many, 'utf8')).toBe(expected);
  });

  it('fails on a destination it cannot write, leaving no temporary file', async () => {
    const blocker = path.join(tmp, 'not-a-dir');
    await fs.writeFile(blocker, 'x');
    await expect(CsvTextWriter.open(path.join(blocker, 'out.csv'), ['a'])).rejects.toThrow();
  });
});
