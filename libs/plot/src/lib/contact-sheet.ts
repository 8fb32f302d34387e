import sharp from 'sharp';

export interface ContactSheetItem {
  /** An image file path or its encoded bytes (any format sharp reads). */
  image: string | Buffer;
  /** Up to two lines under the thumbnail (split on '\n'; long lines are cut with an ellipsis). */
  caption: string;
}

export interface ContactSheetOptions {
  title?: string;
  subtitle?: string;
  items: ContactSheetItem[];
  /** Thumbnails per row (default 6, fewer when there are fewer items). */
  columns?: number;
  /** Thumbnail side in pixels (default 180); images are fitted inside it, aspect kept. */
  thumbSize?: number;
  /** Caption font size in pixels (default 15). */
  fontSize?: number;
  /** Images decoded at once (default 4). */
  concurrency?: number;
}

export interface ContactSheetResult {
  png: Buffer;
  width: number;
  height: number;
  /** Items whose image could not be read (drawn as a grey tile marked "unreadable"). */
  unreadable: { index: number; reason: string }[];
}

const FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif";
const TILE_BG = { r: 235, g: 235, b: 235, alpha: 1 };

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

/** Cut a line to about `maxChars` characters (DejaVu Sans averages ~0.6 em per character). */
function fit(line: string, maxChars: number): string {
  return line.length <= maxChars ? line : `${line.slice(0, Math.max(1, maxChars - 1))}…`;
}

async function thumbnail(image: string | Buffer, size: number): Promise<Buffer> {
  return sharp(image, { failOn: 'error' })
    .rotate()
    .resize(size, size, { fit: 'contain', background: TILE_BG })
    .flatten({ background: TILE_BG })
    .png()
    .toBuffer();
}

/**
 * A grid of thumbnails with captions, composed with sharp (captions and title are one SVG overlay).
 * An unreadable image never fails the sheet: its tile is grey and says so.
 */
export async function renderContactSheetDetailed(opts: ContactSheetOptions): Promise<ContactSheetResult> {
  const thumb = Math.max(32, Math.round(opts.thumbSize ?? 180));
  const fontSize = Math.max(8, Math.round(opts.fontSize ?? 15));
  const count = opts.items.length;
  const columns = Math.max(1, Math.min(opts.columns ?? 6, Math.max(count, 1)));
  const rows = Math.max(1, Math.ceil(count / columns));
  const gap = Math.round(thumb * 0.08) + 4;
  const captionHeight = Math.round(fontSize * 2.6) + 6;
  const titleSize = Math.round(fontSize * 1.7);
  const headerHeight = (opts.title ? Math.round(titleSize * 1.8) : 0) + (opts.subtitle ? Math.round(fontSize * 1.6) : 0) + (opts.title || opts.subtitle ? gap : 0);
  const width = Math.max(columns * (thumb + gap) + gap, opts.title ? 480 : 0);
  const height = headerHeight + rows * (thumb + captionHeight + gap) + gap;
  const maxChars = Math.floor(thumb / (fontSize * 0.6));

  const tiles: (Buffer | Error)[] = new Array(count);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, count)) }, async () => {
    while (next < count) {
      const i = next++;
      try {
        tiles[i] = await thumbnail(opts.items[i].image, thumb);
      } catch (error) {
        tiles[i] = error instanceof Error ? error : new Error(String(error));
      }
    }
  });
  await Promise.all(workers);

  const unreadable: ContactSheetResult['unreadable'] = [];
  const composites: sharp.OverlayOptions[] = [];
  const svg: string[] = [];
  const gridLeft = Math.round((width - (columns * (thumb + gap) - gap)) / 2);
  if (opts.title) {
    svg.push(`<text x="${width / 2}" y="${Math.round(titleSize * 1.3)}" font-size="${titleSize}" font-weight="bold" text-anchor="middle" fill="#222">${escapeXml(opts.title)}</text>`);
  }
  if (opts.subtitle) {
    const y = (opts.title ? Math.round(titleSize * 1.8) : 0) + Math.round(fontSize * 1.2);
    svg.push(`<text x="${width / 2}" y="${y}" font-size="${fontSize}" text-anchor="middle" fill="#444">${escapeXml(fit(opts.subtitle, Math.floor(width / (fontSize * 0.6))))}</text>`);
  }
  for (let i = 0; i < count; i++) {
    const col = i % columns;
    const row = Math.floor(i / columns);
    const left = gridLeft + col * (thumb + gap);
    const top = headerHeight + gap + row * (thumb + captionHeight + gap);
    const tile = tiles[i];
    if (tile instanceof Error) {
      unreadable.push({ index: i, reason: tile.message });
      svg.push(`<rect x="${left}" y="${top}" width="${thumb}" height="${thumb}" fill="#cccccc"/>`);
      svg.push(`<text x="${left + thumb / 2}" y="${top + thumb / 2}" font-size="${fontSize}" text-anchor="middle" fill="#8b0000">unreadable</text>`);
    } else {
      composites.push({ input: tile, left, top });
    }
    const lines = opts.items[i].caption.split('\n').slice(0, 2);
    lines.forEach((line, k) => {
      const y = top + thumb + Math.round(fontSize * 1.2) + k * Math.round(fontSize * 1.25);
      svg.push(`<text x="${left + thumb / 2}" y="${y}" font-size="${fontSize}" text-anchor="middle" fill="#222">${escapeXml(fit(line, maxChars))}</text>`);
    });
  }
  if (count === 0) {
    svg.push(`<text x="${width / 2}" y="${headerHeight + gap + thumb / 2}" font-size="${fontSize}" text-anchor="middle" fill="#666">no images</text>`);
  }
  const overlay = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="${FONT}">${svg.join('')}</g></svg>`,
  );
  composites.push({ input: overlay, left: 0, top: 0 });
  const png = await sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(composites)
    .png()
    .toBuffer();
  return { png, width, height, unreadable };
}

/** A grid of captioned thumbnails as a PNG buffer (see renderContactSheetDetailed for the unreadable list). */
export async function renderContactSheet(opts: ContactSheetOptions): Promise<Buffer> {
  return (await renderContactSheetDetailed(opts)).png;
}
