import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage, encodeImage, rgbToGray, sniffImageFormat, toGrayImage } from './image';
import { ImageDecodeError } from './errors';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-image-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** A w x h RGB image whose left half is red and right half blue. */
function halves(w: number, h: number): Buffer {
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      if (x < w / 2) data[i] = 255;
      else data[i + 2] = 255;
    }
  return data;
}

async function expectDecodeError(file: string, reason: string): Promise<void> {
  const error = await decodeImage(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageDecodeError);
  expect((error as ImageDecodeError).reason).toBe(reason);
  expect((error as ImageDecodeError).file).toBe(file);
  expect((error as Error).message).toContain(file);
}

describe('decodeImage', () => {
  it('decodes a PNG to RGB with exact pixels', async () => {
    const file = path.join(dir, 'halves.png');
    await sharp(halves(8, 4), { raw: { width: 8, height: 4, channels: 3 } }).png().toFile(file);
    const img = await decodeImage(file);
    expect([img.width, img.height, img.channels]).toEqual([8, 4, 3]);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 0, 0]);
    expect(Array.from(img.data.subarray(7 * 3, 8 * 3))).toEqual([0, 0, 255]);
  });

  it('applies EXIF orientation (6 = rotate 90 clockwise)', async () => {
    const file = path.join(dir, 'rotated.jpg');
    await sharp(halves(40, 20), { raw: { width: 40, height: 20, channels: 3 } })
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toFile(file);
    const img = await decodeImage(file);
    expect([img.width, img.height]).toEqual([20, 40]);
    // red was on the left; after a 90-degree clockwise turn it is on top
    const top = img.data[(2 * 20 + 10) * 3];
    const bottom = img.data[(37 * 20 + 10) * 3];
    expect(top).toBeGreaterThan(200);
    expect(bottom).toBeLessThan(60);
  });

  it('reduces a 16-bit PNG to 8 bits', async () => {
    const file = path.join(dir, 'deep.png');
    await sharp(halves(6, 6), { raw: { width: 6, height: 6, channels: 3 } }).toColourspace('rgb16').png().toFile(file);
    expect((await sharp(file).metadata()).depth).toBe('ushort');
    const img = await decodeImage(file);
    expect(img.channels).toBe(3);
    expect(img.data.length).toBe(6 * 6 * 3);
    expect(img.data[0]).toBe(255);
  });

  it('expands a grayscale JPEG to RGB, or keeps one channel on request', async () => {
    const file = path.join(dir, 'gray.jpg');
    const gray = Buffer.alloc(16 * 16, 100);
    await sharp(gray, { raw: { width: 16, height: 16, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 100 }).toFile(file);
    expect((await sharp(file).metadata()).channels).toBe(1);
    const rgb = await decodeImage(file);
    expect(rgb.channels).toBe(3);
    expect(Math.abs(rgb.data[0] - 100)).toBeLessThanOrEqual(1);
    expect(rgb.data[0]).toBe(rgb.data[1]);
    const kept = await decodeImage(file, { channels: 'keep' });
    expect(kept.channels).toBe(1);
  });

  it('converts a CMYK JPEG to RGB', async () => {
    const file = path.join(dir, 'cmyk.jpg');
    await sharp(halves(16, 16), { raw: { width: 16, height: 16, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 100 }).toFile(file);
    expect((await sharp(file).metadata()).space).toBe('cmyk');
    const img = await decodeImage(file);
    expect(img.channels).toBe(3);
    const [r, g, b] = img.data.subarray(0, 3);
    expect(r).toBeGreaterThan(180);
    expect(g).toBeLessThan(90);
    expect(b).toBeLessThan(90);
  });

  it('names the file and the reason for each kind of bad input', async () => {
    const empty = path.join(dir, 'empty.jpg');
    await fs.writeFile(empty, '');
    await expectDecodeError(empty, 'empty');

    const text = path.join(dir, 'text.jpg');
    await fs.writeFile(text, 'this is not an image\n');
    await expectDecodeError(text, 'unsupported-format');

    const good = await sharp(halves(64, 64), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const truncated = path.join(dir, 'truncated.jpg');
    await fs.writeFile(truncated, good.subarray(0, Math.floor(good.length / 3)));
    await expectDecodeError(truncated, 'corrupt');

    const garbage = path.join(dir, 'garbage.jpg');
    await fs.writeFile(garbage, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]));
    await expectDecodeError(garbage, 'corrupt');

    await expectDecodeError(path.join(dir, 'missing.jpg'), 'not-found');
  });

  it('refuses an image over the pixel limit from its header, before decoding', async () => {
    const file = path.join(dir, 'big.png');
    await sharp({ create: { width: 300, height: 200, channels: 3, background: '#808080' } }).png().toFile(file);
    const error = await decodeImage(file, { maxPixels: 50_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect((error as ImageDecodeError).reason).toBe('too-large');
    expect((error as Error).message).toContain('300x200');
    await expect(decodeImage(file, { maxPixels: 60_000 })).resolves.toMatchObject({ width: 300, height: 200 });
  });

  if (process.getuid && process.getuid() !== 0) {
    it('reports an unreadable file', async () => {
      const file = path.join(dir, 'locked.png');
      await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).png().toFile(file);
      await fs.chmod(file, 0o000);
      await expectDecodeError(file, 'unreadable');
    });
  }
});

describe('gray and encoding', () => {
  it('matches OpenCV BGR2GRAY fixed-point rounding', () => {
    // Values computed by cv2.cvtColor(np.uint8([[[b, g, r]]]), cv2.COLOR_BGR2GRAY) (OpenCV 4.6) for these RGB
    // triples; the second row are colours where a 14-bit fixed-point formula rounds differently.
    const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 255, 255, 255, 1, 2, 3]);
    expect(Array.from(rgbToGray(rgb, 6, 1))).toEqual([76, 150, 29, 18, 255, 2]);
    const tricky = new Uint8Array([170, 227, 30, 228, 205, 35, 232, 240, 11, 167, 46, 233, 41, 48, 176, 91, 236, 33]);
    expect(Array.from(rgbToGray(tricky, 6, 1))).toEqual([188, 193, 212, 103, 60, 170]);
  });

  it('round-trips through PNG and makes a gray image', async () => {
    const image = { width: 8, height: 4, channels: 3 as const, data: new Uint8Array(halves(8, 4)) };
    const png = await encodeImage(image, 'png');
    expect(sniffImageFormat(png)).toBe('png');
    const back = await decodeImage(png);
    expect(Array.from(back.data)).toEqual(Array.from(image.data));
    const gray = toGrayImage(back);
    expect(gray.channels).toBe(1);
    expect(gray.data[0]).toBe(76);
  });
});
