/**
 * The hostile-input corpus of issue #17, made by the tests in a temporary sandbox (never committed):
 *   <sandbox>/data/     the dataset root, in one of the three layouts (labels CSV, folder per label, UTKFace names)
 *   <sandbox>/outside/  real images outside the root that labels-CSV rows and a symlink point at (must never change)
 *   <sandbox>/out/      where the stages write
 * Good images are synthetic faces (@agekit/synth); every entry says what a stage must do with it.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { createRng, encodeImage } from '@agekit/dataset';
import { renderSample } from '@agekit/synth';

export type CorpusLayout = 'labels-csv' | 'folder-per-label' | 'utkface';

/**
 * What a stage must do with an entry:
 * - good: measured and processed without error (a row without error in metadata.csv and processing.csv, a file in
 *   processed_dataset/);
 * - broken: an error row (or an explore problem) naming it, with a reason; never processed;
 * - odd: a decodable but unusual image or name: either processed (with bytes matching its extension) or reported;
 *   never silently dropped;
 * - escape: a path that leaves the dataset root: refused with `outside-dataset`;
 * - bad-label: an image with an impossible label (32.5, -5, 999): reported, never a record;
 * - hidden: present in the folder but not a dataset entry (a directory loop only the CSV layout does not reference).
 */
export type EntryKind = 'good' | 'broken' | 'odd' | 'escape' | 'bad-label' | 'hidden';

export interface CorpusEntry {
  /** Path relative to the dataset root ('/' separators): the record id a stage should use. */
  id: string;
  kind: EntryKind;
  /** What it is, for assertion messages. */
  what: string;
  /** The age its label says (for good images and duplicates). */
  age?: number;
  /** Byte-identical copy of this id. */
  duplicateOf?: string;
  /** Same face re-encoded (a near-duplicate) of this id. */
  nearDuplicateOf?: string;
  /** An error reported for it must contain this text (issue #17's reason codes). */
  reason?: RegExp;
  /** The text its report must contain when not its id (a labels-CSV row: its path as written). */
  reportedAs?: string;
  /** Other texts that name it (an absolute CSV path may be reported relative to the root). */
  aliases?: string[];
  /** labels-csv: the line of its row (1 = header), for reports that name `labels.csv:<line>`. */
  csvLine?: number;
}

export interface Corpus {
  layout: CorpusLayout;
  sandbox: string;
  /** Dataset root, `<sandbox>/data`. */
  root: string;
  /** `<sandbox>/outside`: images the dataset points at but that are not in it. */
  outside: string;
  entries: CorpusEntry[];
}

/** The ages of the good faces: few classes with several faces each, so a split can put a pair apart. */
export const GOOD_AGES = [20, 30, 40, 50];
export const FACES_PER_AGE = 6;
/** Age used for every hostile entry. */
const HOSTILE_AGE = 30;
const FACE_SIZE = 128;

/** A synthetic face as JPEG bytes, deterministic for (age, key). */
export async function faceJpeg(age: number, key: string, size = FACE_SIZE, quality = 92): Promise<Buffer> {
  const image = renderSample({ age, size, defect: 'none' }, createRng(`safety:${key}`));
  return encodeImage(image, 'jpeg', quality);
}

/** A PNG whose IHDR claims width x height (the CRC is valid, so only the size gives it away). */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 2, height: 2, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toBuffer());
  // signature (8) + length (4) + 'IHDR' (4), then width and height; the chunk's CRC covers type + data (17 bytes)
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

/** A JPEG whose start-of-frame marker claims width x height. */
function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; i++) {
    if (out[i] === 0xff && out[i + 1] >= 0xc0 && out[i + 1] <= 0xc2) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
  }
  throw new Error('no SOF marker in the JPEG');
}

async function noise(width: number, height: number, format: 'png' | 'jpeg'): Promise<Buffer> {
  const rng = createRng(`noise:${width}x${height}`);
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rng.next() * 256);
  const s = sharp(data, { raw: { width, height, channels: 3 } });
  return format === 'png' ? s.png().toBuffer() : s.jpeg().toBuffer();
}

/** Two frames at 64 px: under minSide, so process has to correct (re-encode) it rather than copy its bytes. */
async function animated(face: Buffer, format: 'gif' | 'webp'): Promise<Buffer> {
  const small = await sharp(face).resize(64, 64).jpeg().toBuffer();
  const frames = [small, await sharp(small).negate().jpeg().toBuffer()];
  const joined = sharp(frames, { join: { animated: true } });
  return format === 'gif' ? joined.gif().toBuffer() : joined.webp().toBuffer();
}

/** Where an image with this age and stem goes in a layout (its id). */
function idFor(layout: CorpusLayout, age: number | string, stem: string, ext: string): string {
  if (layout === 'labels-csv') return `images/${stem}.${ext}`;
  if (layout === 'folder-per-label') return `${age}/${stem}.${ext}`;
  return `${age}_0_0_2017${stem}.${ext}`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export async function makeCorpus(sandbox: string, layout: CorpusLayout): Promise<Corpus> {
  const root = path.join(sandbox, 'data');
  const outside = path.join(sandbox, 'outside');
  await fs.mkdir(root, { recursive: true });
  await fs.mkdir(outside, { recursive: true });
  const entries: CorpusEntry[] = [];
  /** Labels-CSV rows: the path as written in the CSV and the age text. */
  const csvRows: Array<{ file: string; age: string; entry?: CorpusEntry }> = [];
  const put = async (entry: CorpusEntry, bytes: Buffer | undefined, ageText?: string): Promise<void> => {
    if (bytes) {
      const file = path.join(root, ...entry.id.split('/'));
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, bytes);
    }
    entries.push(entry);
    if (layout === 'labels-csv' && entry.kind !== 'hidden') csvRows.push({ file: entry.reportedAs ?? entry.id, age: ageText ?? String(entry.age ?? HOSTILE_AGE), entry });
  };

  // good faces, byte-identical copies and near-duplicates (same face, re-encoded at another quality)
  for (const age of GOOD_AGES) {
    for (let k = 0; k < FACES_PER_AGE; k++) {
      const id = idFor(layout, age, `good_${age}_${k}`, 'jpg');
      const bytes = await faceJpeg(age, `${age}/${k}`);
      await put({ id, kind: 'good', what: `synthetic face, age ${age}`, age }, bytes);
      if (k < 2) await put({ id: idFor(layout, age, `copy_${age}_${k}`, 'jpg'), kind: 'good', what: `byte-identical copy of ${id}`, age, duplicateOf: id }, bytes);
      if (k === 2) {
        const near = await sharp(bytes).jpeg({ quality: 80 }).toBuffer();
        await put({ id: idFor(layout, age, `near_${age}_${k}`, 'jpg'), kind: 'good', what: `near-duplicate (re-encoded) of ${id}`, age, nearDuplicateOf: id }, near);
      }
    }
  }
  const hostileFace = await faceJpeg(HOSTILE_AGE, 'hostile');

  // file names a CSV writer or a shell would trip on: still good images
  for (const [stem, what] of [
    ['été_ünïcødé_名前', 'unicode name'],
    ['quo"te', 'a quote in the name'],
    ['com,ma', 'a comma in the name'],
  ]) {
    await put({ id: idFor(layout, HOSTILE_AGE, stem, 'jpg'), kind: 'good', what, age: HOSTILE_AGE }, await faceJpeg(HOSTILE_AGE, stem));
  }
  await put({ id: idFor(layout, HOSTILE_AGE, 'new\nline', 'jpg'), kind: 'odd', what: 'a newline in the name' }, await faceJpeg(HOSTILE_AGE, 'newline'));

  // broken files
  await put({ id: idFor(layout, HOSTILE_AGE, 'zero', 'jpg'), kind: 'broken', what: 'zero-byte file' }, Buffer.alloc(0));
  await put({ id: idFor(layout, HOSTILE_AGE, 'truncated', 'jpg'), kind: 'broken', what: 'truncated JPEG' }, hostileFace.subarray(0, Math.floor(hostileFace.length / 2)));
  await put({ id: idFor(layout, HOSTILE_AGE, 'text', 'jpg'), kind: 'broken', what: 'text saved as .jpg' }, Buffer.from('this is not an image\n'.repeat(20)));
  await put({ id: idFor(layout, HOSTILE_AGE, 'bomb', 'png'), kind: 'broken', what: 'PNG whose IHDR claims 100000x100000' }, await pngClaiming(100_000, 100_000));
  await put({ id: idFor(layout, HOSTILE_AGE, 'sof', 'jpg'), kind: 'broken', what: 'JPEG whose SOF claims 65535x65535' }, jpegClaiming(hostileFace, 65535, 65535));

  // decodable but unusual images
  await put({ id: idFor(layout, HOSTILE_AGE, 'cmyk', 'jpg'), kind: 'odd', what: 'CMYK JPEG' }, await sharp(hostileFace).toColourspace('cmyk').jpeg().toBuffer());
  await put({ id: idFor(layout, HOSTILE_AGE, 'deep16', 'png'), kind: 'odd', what: '16-bit PNG' }, await sharp(hostileFace).toColourspace('rgb16').png().toBuffer());
  await put({ id: idFor(layout, HOSTILE_AGE, 'alpha', 'png'), kind: 'odd', what: 'RGBA PNG' }, await sharp(hostileFace).ensureAlpha(0.5).png().toBuffer());
  await put({ id: idFor(layout, HOSTILE_AGE, 'anim', 'gif'), kind: 'odd', what: 'animated GIF (64 px)' }, await animated(hostileFace, 'gif'));
  await put({ id: idFor(layout, HOSTILE_AGE, 'anim', 'webp'), kind: 'odd', what: 'animated WebP (64 px)' }, await animated(hostileFace, 'webp'));
  await put({ id: idFor(layout, HOSTILE_AGE, 'exif6', 'jpg'), kind: 'odd', what: 'JPEG with EXIF orientation 6' }, await sharp(hostileFace).jpeg().withMetadata({ orientation: 6 }).toBuffer());
  await put({ id: idFor(layout, HOSTILE_AGE, 'one', 'png'), kind: 'odd', what: '1x1 image' }, await noise(1, 1, 'png'));
  // 4x4000 in one layout only: process upscales it to 100x100000, which costs ~15 s on this machine
  const thinHeight = layout === 'folder-per-label' ? 4000 : 400;
  await put({ id: idFor(layout, HOSTILE_AGE, 'thin', 'png'), kind: 'odd', what: `4x${thinHeight} image` }, await noise(4, thinHeight, 'png'));

  // entries that are not files: a directory named like an image, symlinks
  const xdir = idFor(layout, HOSTILE_AGE, 'x', 'jpg');
  await fs.mkdir(path.join(root, ...xdir.split('/')), { recursive: true });
  await put({ id: xdir, kind: 'broken', what: 'a directory named x.jpg' }, undefined);
  const link = async (id: string, target: string): Promise<void> => {
    const file = path.join(root, ...id.split('/'));
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.symlink(target, file);
  };
  const loopA = idFor(layout, HOSTILE_AGE, 'loop_a', 'jpg');
  const loopB = idFor(layout, HOSTILE_AGE, 'loop_b', 'jpg');
  await link(loopA, path.basename(loopB));
  await link(loopB, path.basename(loopA));
  await put({ id: loopA, kind: 'broken', what: 'file symlink loop (a -> b -> a)' }, undefined);
  await put({ id: loopB, kind: 'broken', what: 'file symlink loop (b -> a -> b)' }, undefined);
  const dangling = idFor(layout, HOSTILE_AGE, 'dangling', 'jpg');
  await link(dangling, 'no-such-file.jpg');
  await put({ id: dangling, kind: 'broken', what: 'dangling symlink' }, undefined);
  await fs.writeFile(path.join(outside, 'linked.jpg'), await faceJpeg(HOSTILE_AGE, 'outside-linked'));
  const linkOut = idFor(layout, HOSTILE_AGE, 'link_out', 'jpg');
  await link(linkOut, path.relative(path.dirname(path.join(root, linkOut)), path.join(outside, 'linked.jpg')));
  await put({ id: linkOut, kind: 'escape', what: 'symlink to an image outside the dataset root', reason: /outside-dataset/ }, undefined);

  if (layout === 'folder-per-label') {
    // a subfolder inside a label folder (with a real image) and a directory symlink loop (30/dirloop -> .. = the root)
    await put({ id: `${HOSTILE_AGE}/sub/nested.jpg`, kind: 'broken', what: 'image in a subfolder of a label folder' }, await faceJpeg(HOSTILE_AGE, 'nested'));
    await link(`${HOSTILE_AGE}/dirloop`, '..');
    await put({ id: `${HOSTILE_AGE}/dirloop`, kind: 'broken', what: 'directory symlink loop (-> ..)', reason: /symlink-loop/ }, undefined);
    await put({ id: '999/good_999.jpg', kind: 'bad-label', what: 'age folder 999' }, await faceJpeg(HOSTILE_AGE, 'age999'));
  } else if (layout === 'utkface') {
    for (const [ageText, key] of [
      ['32.5', 'age32.5'],
      ['-5', 'age-5'],
      ['999', 'age999'],
    ]) {
      await put({ id: `${ageText}_0_0_20170101000000_${key}.jpg`, kind: 'bad-label', what: `age ${ageText} in a UTKFace name` }, await faceJpeg(HOSTILE_AGE, key));
    }
  } else {
    // a directory loop in the images folder no row points into: it must not be followed
    await link('images/dirloop', '..');
    entries.push({ id: 'images/dirloop', kind: 'hidden', what: 'directory symlink loop no row references' });
    for (const [ageText, key] of [
      ['32.5', 'age32_5'],
      ['-5', 'age-5'],
      ['999', 'age999'],
    ]) {
      await put({ id: `images/${key}.jpg`, kind: 'bad-label', what: `age ${ageText} in the labels CSV` }, await faceJpeg(HOSTILE_AGE, key), ageText);
    }
    // rows pointing at real images outside the root: by '../' and by an absolute path
    await fs.writeFile(path.join(outside, 'p.jpg'), await faceJpeg(HOSTILE_AGE, 'outside-p'));
    await fs.writeFile(path.join(outside, 'q.jpg'), await faceJpeg(HOSTILE_AGE, 'outside-q'));
    entries.push({ id: '../outside/p.jpg', kind: 'escape', what: "labels-CSV row '../outside/p.jpg'", reason: /outside-dataset/, reportedAs: '../outside/p.jpg' });
    csvRows.push({ file: '../outside/p.jpg', age: String(HOSTILE_AGE), entry: entries[entries.length - 1] });
    const absolute = path.join(outside, 'q.jpg');
    entries.push({ id: absolute, kind: 'escape', what: 'labels-CSV row with an absolute path', reason: /outside-dataset/, reportedAs: absolute, aliases: ['../outside/q.jpg'] });
    csvRows.push({ file: absolute, age: String(HOSTILE_AGE), entry: entries[entries.length - 1] });
    // the labels CSV itself: a byte-order mark, CRLF line ends, quoted fields
    const lines = ['file,age', ...csvRows.map((r) => `${csvField(r.file)},${r.age}`)];
    csvRows.forEach((r, i) => {
      if (r.entry) r.entry.csvLine = i + 2;
    });
    await fs.writeFile(path.join(root, 'labels.csv'), `\ufeff${lines.join('\r\n')}\r\n`);
  }

  return { layout, sandbox, root, outside, entries };
}

/** Face crops in nested folders plus a directory symlink loop back to the top (a/b/loop -> ../..); returns the image count. */
export async function makePhotos(dir: string): Promise<number> {
  const files = ['a/one.jpg', 'a/b/two.jpg', 'a/b/three.jpg', 'c/four.jpg', 'five.jpg'];
  for (const [i, rel] of files.entries()) {
    const file = path.join(dir, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, await faceJpeg(GOOD_AGES[i % GOOD_AGES.length], `photo-${i}`));
  }
  await fs.symlink('../..', path.join(dir, 'a', 'b', 'loop'));
  return files.length;
}

/** A dataset of nothing but bad files (folder per label): every stage must fail with exit 1. */
export async function makeBadOnlyDataset(root: string): Promise<void> {
  await fs.mkdir(path.join(root, '30'), { recursive: true });
  await fs.writeFile(path.join(root, '30', 'zero.jpg'), Buffer.alloc(0));
  await fs.writeFile(path.join(root, '30', 'text.jpg'), 'not an image\n');
  await fs.writeFile(path.join(root, '30', 'bomb.png'), await pngClaiming(100_000, 100_000));
}

/** Copies of a set of faces under `root/<age>/`, enough images that a stage is still running when it is killed. */
export async function makeLargeDataset(root: string, count: number, size = FACE_SIZE): Promise<void> {
  const distinct = 24;
  const bytes: Buffer[] = [];
  for (let k = 0; k < distinct; k++) bytes.push(await faceJpeg(GOOD_AGES[k % GOOD_AGES.length], `large-${k}`, size));
  for (let i = 0; i < count; i++) {
    const k = i % distinct;
    const age = GOOD_AGES[k % GOOD_AGES.length];
    const file = path.join(root, String(age), `face_${String(i).padStart(5, '0')}.jpg`);
    await fs.mkdir(path.dirname(file), { recursive: true });
    // each copy differs in a comment-free way (a re-encode at a quality of its own) so it is not a duplicate
    await fs.writeFile(file, i < distinct ? bytes[k] : await sharp(bytes[k]).modulate({ brightness: 1 + ((i % 17) - 8) / 200 }).jpeg({ quality: 85 + (i % 10) }).toBuffer());
  }
}

/** A small, fast training run: one epoch of the small CNN at 32 px. */
export const TRAIN_CONFIG = {
  architecture: 'simple-cnn',
  task: { kind: 'classification', minAge: 20, maxAge: 50 },
  input: { size: 32, grayscale: false },
  training: { epochs: 1, batchSize: 16, learningRate: 0.001, earlyStoppingPatience: 0, flip: false, workers: 1 },
  backend: 'auto',
  seed: 7,
};
