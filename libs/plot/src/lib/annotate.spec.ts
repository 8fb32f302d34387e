import sharp from 'sharp';
import { annotateImage, annotationScale, ANNOTATION_COLORS, type AnnotateImage } from './annotate';

const GRAY = 128;

function solid(width: number, height: number, channels: 1 | 3 | 4): AnnotateImage {
  const data = new Uint8Array(width * height * channels).fill(GRAY);
  if (channels === 4) for (let i = 3; i < data.length; i += 4) data[i] = 255;
  return { width, height, channels, data };
}

async function decode(bytes: Buffer): Promise<{ width: number; height: number; at: (x: number, y: number) => [number, number, number] }> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, at: (x, y) => [data[(y * info.width + x) * 3], data[(y * info.width + x) * 3 + 1], data[(y * info.width + x) * 3 + 2]] };
}

function hexRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const near = (a: number[], b: number[], tolerance = 3) => a.every((v, i) => Math.abs(v - b[i]) <= tolerance);

describe('annotateImage', () => {
  it('draws the box in its colour on the box, a filled label above it, and changes nothing far from them', async () => {
    const box = { x: 100, y: 120, width: 160, height: 140 };
    const png = await annotateImage(solid(500, 400, 3), [{ box, label: '34 y (30-39 62%)' }]);
    expect(png.subarray(0, 4).toString('hex')).toBe('89504e47');
    const img = await decode(png);
    expect([img.width, img.height]).toEqual([500, 400]);
    const color = hexRgb(ANNOTATION_COLORS[0]);
    const { lineWidth, fontSize } = annotationScale(500, 400);
    // every pixel along the four edges (inside the line's width) has the box colour
    for (let t = 0; t < box.width; t += 7) {
      expect(near(img.at(box.x + t, box.y + box.height - 1), color)).toBe(true); // bottom edge
    }
    for (let t = 0; t < box.height; t += 7) {
      expect(near(img.at(box.x, box.y + t), color)).toBe(true); // left edge
      expect(near(img.at(box.x + box.width - 1, box.y + t), color)).toBe(true); // right edge
    }
    expect(near(img.at(box.x + box.width - 1, box.y), color)).toBe(true); // top edge, right of the label
    // the line has the scaled width and no more: just inside it, and just outside the box, the photo is untouched
    expect(near(img.at(box.x + lineWidth + 1, box.y + box.height / 2), [GRAY, GRAY, GRAY], 0)).toBe(true);
    expect(near(img.at(box.x - 2, box.y + box.height / 2), [GRAY, GRAY, GRAY], 0)).toBe(true);
    expect(near(img.at(box.x + box.width + 1, box.y + box.height / 2), [GRAY, GRAY, GRAY], 0)).toBe(true);
    // the label: a filled band in the box colour just above the box, with text of the other colour in it
    let fill = 0;
    let text = 0;
    for (let y = box.y - fontSize; y < box.y; y++)
      for (let x = box.x; x < box.x + 60; x++) {
        const p = img.at(x, y);
        if (near(p, color, 10)) fill++;
        else if (near(p, [255, 255, 255], 60)) text++;
      }
    expect(fill).toBeGreaterThan(60 * fontSize * 0.4);
    expect(text).toBeGreaterThan(20);
    // far from the box and the label, nothing changed
    let changed = 0;
    for (let y = 0; y < 400; y++)
      for (let x = 0; x < 500; x++) {
        const farX = x < box.x - 10 || x > box.x + box.width + 10;
        const farY = y < box.y - 3 * fontSize || y > box.y + box.height + 10;
        if ((farX || farY) && !near(img.at(x, y), [GRAY, GRAY, GRAY], 0)) changed++;
      }
    expect(changed).toBe(0);
  });

  it('puts the label inside the box when the box touches the top, keeps it inside the image, colours faces differently', async () => {
    const faces = [
      { box: { x: 430, y: 0, width: 60, height: 80 }, label: 'a long label that overflows' },
      { box: { x: 20, y: 100, width: 80, height: 80 }, label: '20 y' },
    ];
    const img = await decode(await annotateImage(solid(500, 300, 1), faces));
    const [first, second] = [hexRgb(ANNOTATION_COLORS[0]), hexRgb(ANNOTATION_COLORS[1])];
    // the first label starts at the image's top and ends at its right edge (shifted left to fit)
    // (row 1 lies in the label's top padding: background only, no glyphs)
    expect(near(img.at(499, 1), first, 10)).toBe(true);
    expect(near(img.at(499 - 150, 1), first, 10)).toBe(true);
    expect(near(img.at(20, 150), second)).toBe(true);
    expect(near(img.at(250, 280), [GRAY, GRAY, GRAY], 0)).toBe(true);
  });

  it('scales the line width with the image and encodes JPEG on request (RGBA input)', async () => {
    expect(annotationScale(1920, 1280).lineWidth).toBeGreaterThan(annotationScale(200, 200).lineWidth);
    expect(annotationScale(1920, 1280).fontSize).toBeGreaterThan(annotationScale(200, 200).fontSize);
    const jpeg = await annotateImage(solid(300, 200, 4), [{ box: { x: 50, y: 60, width: 100, height: 100 }, label: 'x' }], { format: 'jpeg' });
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    const img = await decode(jpeg);
    expect(near(img.at(51, 110), hexRgb(ANNOTATION_COLORS[0]), 40)).toBe(true);
    expect(near(img.at(250, 30), [GRAY, GRAY, GRAY], 4)).toBe(true);
  });

  it('rejects pixel data that does not match the size', async () => {
    await expect(annotateImage({ width: 10, height: 10, channels: 3, data: new Uint8Array(5) }, [])).rejects.toThrow(/expected 300/);
  });
});
