import sharp from 'sharp';
import { renderContactSheetDetailed } from './contact-sheet';

async function solid(r: number, g: number, b: number, w = 64, h = 48): Promise<Buffer> {
  return sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } })
    .jpeg()
    .toBuffer();
}

describe('renderContactSheet', () => {
  it('places thumbnails in a grid with captions and marks unreadable images', async () => {
    const items = [
      { image: await solid(255, 0, 0), caption: 'red.jpg\nlap 12' },
      { image: await solid(0, 0, 255), caption: 'blue.jpg' },
      { image: Buffer.from('not an image'), caption: 'broken.jpg' },
    ];
    const res = await renderContactSheetDetailed({ title: 'Flagged: blurry', items, columns: 2, thumbSize: 100 });
    const { data, info } = await sharp(res.png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([res.width, res.height]);
    expect(res.unreadable.map((u) => u.index)).toEqual([2]);
    // Two rows of two columns: the sheet is taller than two thumbnails and wider than two.
    expect(res.width).toBeGreaterThanOrEqual(2 * 100);
    expect(res.height).toBeGreaterThan(2 * 100);
    let red = 0;
    let blue = 0;
    for (let i = 0; i < info.width * info.height; i++) {
      const [r, g, b] = [data[i * info.channels], data[i * info.channels + 1], data[i * info.channels + 2]];
      if (r > 200 && g < 60 && b < 60) red++;
      if (b > 200 && r < 60 && g < 60) blue++;
    }
    // Each 64x48 image fitted into 100x100 keeps its aspect: 100x75 pixels.
    expect(red).toBeGreaterThan(100 * 70);
    expect(red).toBeLessThan(100 * 80);
    expect(blue).toBeGreaterThan(100 * 70);
  });

  it('renders an empty sheet without failing', async () => {
    const res = await renderContactSheetDetailed({ title: 'Nothing flagged', items: [] });
    expect(res.png.length).toBeGreaterThan(100);
  });
});
