import { promises as fs, realpathSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { readDataset } from './layouts';
import { listImageFiles, realPathIn, type RealFolder } from './paths';

let sandbox: string;
let root: string;
const tiny = (): Promise<Buffer> => sharp({ create: { width: 4, height: 4, channels: 3, background: '#777' } }).jpeg().toBuffer();

async function put(file: string, bytes?: Buffer | string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, bytes ?? (await tiny()));
}

beforeEach(async () => {
  sandbox = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-paths-'));
  root = path.join(sandbox, 'data');
  await put(path.join(sandbox, 'outside', 'p.jpg'));
});
afterEach(async () => {
  await fs.rm(sandbox, { recursive: true, force: true });
});

const codes = (problems: Array<{ path: string; code: string }>): string[] => problems.map((p) => `${p.code} ${p.path}`).sort();

describe('a labels CSV cannot reach outside the dataset folder', () => {
  it('refuses ../, absolute paths and links that leave the root, each as a problem naming the entry', async () => {
    await put(path.join(root, 'images', 'a.jpg'));
    await fs.symlink(path.join(sandbox, 'outside', 'p.jpg'), path.join(root, 'images', 'link.jpg'));
    const outsideAbs = path.join(sandbox, 'outside', 'p.jpg');
    await put(path.join(root, 'labels.csv'), `file,age\nimages/a.jpg,30\n../outside/p.jpg,31\n${outsideAbs},32\nimages/link.jpg,33\nimages/../../outside/p.jpg,34\n`);
    const ds = await readDataset(root);
    expect(ds.records.map((r) => r.id)).toEqual(['images/a.jpg']);
    expect(codes(ds.problems)).toEqual(
      [`outside-dataset ../outside/p.jpg`, `outside-dataset ${outsideAbs}`, 'outside-dataset images/link.jpg', 'outside-dataset images/../../outside/p.jpg'].sort(),
    );
    expect(ds.problems.every((p) => p.reason.startsWith('outside-dataset: labels.csv line '))).toBe(true);
  });

  it('rejects ages that are not whole numbers in range instead of rounding them', async () => {
    for (const n of ['a', 'b', 'c', 'd']) await put(path.join(root, `${n}.jpg`));
    await put(path.join(root, 'labels.csv'), '\ufefffile,age\r\na.jpg,32.5\r\nb.jpg,-5\r\nc.jpg,999\r\nd.jpg,40.0\r\n');
    const ds = await readDataset(root);
    expect(ds.records.map((r) => [r.id, r.age])).toEqual([['d.jpg', 40]]);
    expect(codes(ds.problems)).toEqual(['bad-label a.jpg', 'bad-label b.jpg', 'bad-label c.jpg']);
    expect(ds.problems[0].reason).toContain("'32.5'");
  });

  it('a file link loop is a symlink-loop problem, a dangling link is left for the reader (not-found)', async () => {
    await put(path.join(root, 'ok.jpg'));
    await fs.symlink('b.jpg', path.join(root, 'a.jpg'));
    await fs.symlink('a.jpg', path.join(root, 'b.jpg'));
    await fs.symlink('gone.jpg', path.join(root, 'dangling.jpg'));
    await put(path.join(root, 'labels.csv'), 'file,age\nok.jpg,30\na.jpg,31\ndangling.jpg,32\n');
    const ds = await readDataset(root);
    expect(ds.records.map((r) => r.id)).toEqual(['ok.jpg', 'dangling.jpg']);
    expect(codes(ds.problems)).toEqual(['symlink-loop a.jpg']);
  });
});

describe('realPathIn (the real path with each folder listed once)', () => {
  it('gives what realpathSync.native gives (or throws the same error) for files, links, linked folders and missing names', async () => {
    await put(path.join(root, 'images', 'a.jpg'));
    await fs.symlink(path.join(sandbox, 'outside', 'p.jpg'), path.join(root, 'images', 'link.jpg'));
    await fs.symlink(path.join(sandbox, 'outside'), path.join(root, 'linked-out'));
    await fs.symlink(path.join(root, 'images'), path.join(root, 'linked-in'));
    await fs.symlink('loop.jpg', path.join(root, 'images', 'loop.jpg'));
    const folders = new Map<string, RealFolder | null>();
    const outcome = (f: (file: string) => string, file: string): string => {
      try {
        return f(file);
      } catch (error) {
        return `throws ${(error as NodeJS.ErrnoException).code}`;
      }
    };
    const files = ['images/a.jpg', 'images/link.jpg', 'linked-out/p.jpg', 'linked-in/a.jpg', 'images/gone.jpg', 'images/loop.jpg', 'nowhere/x.jpg', 'images'];
    for (const rel of [...files, ...files]) {
      const file = path.join(root, rel);
      expect([rel, outcome((x) => realPathIn(x, folders), file)]).toEqual([rel, outcome((x) => realpathSync.native(x), file)]);
    }
  });

  it('a labels CSV row through a linked folder is checked where the link leads', async () => {
    await put(path.join(root, 'images', 'a.jpg'));
    await fs.symlink(path.join(sandbox, 'outside'), path.join(root, 'linked-out'));
    await fs.symlink(path.join(root, 'images'), path.join(root, 'linked-in'));
    await put(path.join(root, 'labels.csv'), 'file,age\nimages/a.jpg,30\nlinked-in/a.jpg,31\nlinked-out/p.jpg,32\n');
    const ds = await readDataset(root);
    expect(ds.records.map((r) => r.id)).toEqual(['images/a.jpg', 'linked-in/a.jpg']);
    expect(codes(ds.problems)).toEqual(['outside-dataset linked-out/p.jpg']);
  });
});

describe('listing a folder never leaves it and never loops', () => {
  it('folder-per-label: a link back to an ancestor, a link out, a dangling link, a folder named x.jpg and a subfolder are reported', async () => {
    await put(path.join(root, '30', 'a.jpg'));
    await put(path.join(root, '30', 'sub', 'deep.jpg'));
    await put(path.join(root, '999', 'old.jpg'));
    await fs.mkdir(path.join(root, '31', 'x.jpg'), { recursive: true });
    await put(path.join(root, '31', 'b.jpg'));
    await fs.symlink(root, path.join(root, 'loop'));
    await fs.symlink(path.join(sandbox, 'outside'), path.join(root, '32'));
    await fs.symlink(path.join(sandbox, 'outside', 'p.jpg'), path.join(root, '30', 'out.jpg'));
    await fs.symlink('nothing.jpg', path.join(root, '30', 'dangling.jpg'));
    const ds = await readDataset(root, { layout: 'folder-per-label' });
    expect(ds.records.map((r) => r.id)).toEqual(['30/a.jpg', '31/b.jpg']);
    expect(codes(ds.problems)).toEqual(
      ['not-a-file 31/x.jpg', 'not-found 30/dangling.jpg', 'outside-dataset 30/out.jpg', 'outside-dataset 32', 'symlink-loop loop', 'unexpected-folder 30/sub/deep.jpg', 'bad-label 999/old.jpg'].sort(),
    );
  });

  it('a recursive listing follows links inside the root once and reports the loop (no 40-level descent)', async () => {
    await put(path.join(root, 'a', 'one.jpg'));
    await put(path.join(root, 'b', 'two.png'));
    await fs.symlink(path.join(root, 'b'), path.join(root, 'a', 'to-b'));
    await fs.symlink('..', path.join(root, 'b', 'up'));
    const listing = await listImageFiles(root, { extensions: ['.jpg', '.png'], maxDepth: Infinity });
    expect(listing.files.map((f) => path.relative(root, f))).toEqual(['a/one.jpg', 'a/to-b/two.png', 'b/two.png']);
    expect(codes(listing.problems)).toEqual(['symlink-loop a/to-b/up', 'symlink-loop b/up']);
  });
});
