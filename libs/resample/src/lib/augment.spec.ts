import sharp from 'sharp';
import { createRng } from '@agekit/dataset';
import { augmentImage, drawAugmentation, formatTransform, parseTransform, rotationSafeScale, type AugmentParams } from './augment';

const IDENTITY: AugmentParams = { rotation: 0, flip: false, brightness: 1, contrast: 1, saturation: 1, crop: { scale: 1, x: 0.5, y: 0.5 } };

/** A w x h PNG: left half red, right half blue, with a green square top-left. */
async function testImage(w = 96, h = 64): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      if (x < 16 && y < 16) raw[i + 1] = 255;
      else if (x < w / 2) raw[i] = 220;
      else raw[i + 2] = 220;
    }
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

async function pixels(png: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

describe('drawAugmentation', () => {
  it('is deterministic per seed, differs across seeds, and stays in range', () => {
    const a = drawAugmentation(createRng(7));
    expect(drawAugmentation(createRng(7))).toEqual(a);
    expect(drawAugmentation(createRng(8))).not.toEqual(a);
    const rng = createRng(1);
    let flips = 0;
    for (let i = 0; i < 500; i++) {
      const p = drawAugmentation(rng, { maxRotation: 5, minCropScale: 0.9 });
      expect(Math.abs(p.rotation)).toBeLessThanOrEqual(5);
      expect(p.brightness).toBeGreaterThanOrEqual(0.8);
      expect(p.brightness).toBeLessThanOrEqual(1.2);
      expect(p.crop.scale).toBeGreaterThanOrEqual(0.9);
      expect(p.crop.scale).toBeLessThanOrEqual(1);
      if (p.flip) flips++;
    }
    expect(flips).toBeGreaterThan(200);
    expect(flips).toBeLessThan(300);
    expect(() => drawAugmentation(rng, { minCropScale: 0.1 })).toThrow(/minCropScale/);
  });

  it('records parameters exactly in the transform text', () => {
    const rng = createRng(3);
    for (let i = 0; i < 100; i++) {
      const p = drawAugmentation(rng);
      expect(parseTransform(formatTransform(p))).toEqual(p);
    }
    expect(formatTransform(IDENTITY)).toBe('rotate(0)+flip(0)+brightness(1)+contrast(1)+saturation(1)+crop(scale=1,x=0.5,y=0.5)');
    expect(() => parseTransform('copy')).toThrow(/not an augmentation transform/);
  });
});

describe('augmentImage', () => {
  it('keeps the input size, gives 3 channels, and is byte-identical for the same parameters', async () => {
    const input = await testImage();
    const p = drawAugmentation(createRng(11));
    const a = await augmentImage(input, p, { format: 'png' });
    const b = await augmentImage(input, parseTransform(formatTransform(p)), { format: 'png' });
    expect(a.width).toBe(96);
    expect(a.height).toBe(64);
    expect(a.channels).toBe(3);
    expect(Buffer.compare(a.data, b.data)).toBe(0);
    const decoded = await pixels(a.data);
    expect([decoded.width, decoded.height, decoded.channels]).toEqual([96, 64, 3]);
    const other = await augmentImage(input, drawAugmentation(createRng(12)), { format: 'png' });
    expect(Buffer.compare(a.data, other.data)).not.toBe(0);
    const jpeg = await augmentImage(input, p);
    expect((await sharp(jpeg.data).metadata()).format).toBe('jpeg');
  });

  it('identity parameters reproduce the image, a flip mirrors it', async () => {
    const input = await testImage();
    const same = await pixels((await augmentImage(input, IDENTITY, { format: 'png' })).data);
    const orig = await pixels(input);
    let maxDiff = 0;
    for (let i = 0; i < orig.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(orig.data[i] - same.data[i]));
    expect(maxDiff).toBeLessThanOrEqual(2);
    const flipped = await pixels((await augmentImage(input, { ...IDENTITY, flip: true }, { format: 'png' })).data);
    const at = (img: { data: Buffer; width: number }, x: number, y: number): number[] => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
    expect(at(flipped, 2, 2)).toEqual(at(orig, 93, 2)); // top-left now shows the old top-right (blue)
    expect(at(flipped, 93, 2)[1]).toBeGreaterThan(200); // the green square moved right
  });

  it('rotation keeps no filled corner; brightness darkens; contrast compresses', async () => {
    const input = await testImage();
    const rotated = await pixels((await augmentImage(input, { ...IDENTITY, rotation: 9 }, { format: 'png' })).data);
    for (const [x, y] of [[0, 0], [95, 0], [0, 63], [95, 63]]) {
      const i = (y * 96 + x) * 3;
      expect(rotated.data[i] + rotated.data[i + 1] + rotated.data[i + 2]).toBeGreaterThan(100); // not black fill
    }
    expect(rotationSafeScale(100, 100, 0)).toBe(1);
    expect(rotationSafeScale(100, 100, 10)).toBeCloseTo(1 / (Math.cos(Math.PI / 18) + Math.sin(Math.PI / 18)), 12);
    const mean = async (p: AugmentParams): Promise<number> => {
      const img = await pixels((await augmentImage(input, p, { format: 'png' })).data);
      return img.data.reduce((s, v) => s + v, 0) / img.data.length;
    };
    expect(await mean({ ...IDENTITY, brightness: 0.7 })).toBeLessThan((await mean(IDENTITY)) - 5);
    const grey = await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 200, g: 200, b: 200 } } }).png().toBuffer();
    const lowContrast = await pixels((await augmentImage(grey, { ...IDENTITY, contrast: 0.5 }, { format: 'png' })).data);
    expect(lowContrast.data[0]).toBeGreaterThanOrEqual(163);
    expect(lowContrast.data[0]).toBeLessThanOrEqual(165); // 128 + 0.5 * (200 - 128)
  });

  it('names the file of an undecodable input', async () => {
    await expect(augmentImage(Buffer.from('not an image'), IDENTITY, { file: 'bad.jpg' })).rejects.toThrow(/bad\.jpg: unsupported-format/);
    const truncated = (await testImage()).subarray(0, 60);
    await expect(augmentImage(truncated, IDENTITY, { file: 'cut.png' })).rejects.toThrow(/cut\.png: corrupt/);
  });
});

describe('saturation', () => {
  it('0 turns colour grey, 1 keeps it', async () => {
    const red = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 40, b: 40 } } }).png().toBuffer();
    const grey = await pixels((await augmentImage(red, { ...IDENTITY, saturation: 0 }, { format: 'png' })).data);
    const [r, g, b] = grey.data;
    expect(Math.max(r, g, b) - Math.min(r, g, b)).toBeLessThanOrEqual(1);
    expect(r).toBeCloseTo(0.299 * 200 + 0.587 * 40 + 0.114 * 40, -0.5);
    const same = await pixels((await augmentImage(red, IDENTITY, { format: 'png' })).data);
    expect([...same.data.subarray(0, 3)]).toEqual([200, 40, 40]);
  });
});
