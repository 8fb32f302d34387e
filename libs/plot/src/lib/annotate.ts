import { existsSync } from 'node:fs';
import { createCanvas, registerFont, type CanvasRenderingContext2D } from 'canvas';
import { PALETTE } from './canvas';

/** A box in image pixels (top-left origin) and the text drawn with it. */
export interface FaceAnnotation {
  box: { x: number; y: number; width: number; height: number };
  label: string;
}

export interface AnnotateOptions {
  /** Output encoding (default 'png'). */
  format?: 'png' | 'jpeg';
  /** JPEG quality 0..1 (default 0.9). */
  quality?: number;
}

/** Decoded pixels, interleaved rows (structurally @agekit/dataset's PixelImage). */
export interface AnnotateImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/** Box colours, in face order (the palette without its yellow and black, which vanish on skin and hair). */
export const ANNOTATION_COLORS = PALETTE.filter((c) => c !== '#F0E442' && c !== '#000000');

const FONT_FILE = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';
const FONT_FAMILY = 'AgekitAnnotateSans';
let fontRegistered: boolean | undefined;

function fontFamily(): string {
  if (fontRegistered === undefined) {
    fontRegistered = existsSync(FONT_FILE);
    if (fontRegistered) registerFont(FONT_FILE, { family: FONT_FAMILY, weight: 'bold' });
  }
  return fontRegistered ? `${FONT_FAMILY}, DejaVu Sans, sans-serif` : 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
}

/** Black or white, whichever reads better on the colour. */
function textColorOn(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  const luminance = 0.2126 * ((n >> 16) & 255) + 0.7152 * ((n >> 8) & 255) + 0.0722 * (n & 255);
  return luminance > 150 ? '#000000' : '#FFFFFF';
}

/** Line width and font size for an image: about 0.35% and 2.8% of its smaller side, never below 2 and 12 px. */
export function annotationScale(width: number, height: number): { lineWidth: number; fontSize: number; padding: number } {
  const side = Math.min(width, height);
  const lineWidth = Math.max(2, Math.round(side * 0.0035));
  const fontSize = Math.max(12, Math.round(side * 0.028));
  return { lineWidth, fontSize, padding: Math.max(2, Math.round(fontSize * 0.25)) };
}

function toRgba(image: AnnotateImage): Uint8ClampedArray {
  const { width, height, channels, data } = image;
  const pixels = width * height;
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw new RangeError(`annotateImage: bad image size ${width}x${height}`);
  if (data.length !== pixels * channels) throw new RangeError(`annotateImage: ${data.length} bytes of pixel data, expected ${pixels * channels} (${width}x${height}x${channels})`);
  const rgba = new Uint8ClampedArray(pixels * 4);
  for (let i = 0; i < pixels; i++) {
    if (channels === 1) {
      rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = data[i];
      rgba[4 * i + 3] = 255;
    } else {
      rgba[4 * i] = data[channels * i];
      rgba[4 * i + 1] = data[channels * i + 1];
      rgba[4 * i + 2] = data[channels * i + 2];
      rgba[4 * i + 3] = channels === 4 ? data[4 * i + 3] : 255;
    }
  }
  return rgba;
}

function drawFace(ctx: CanvasRenderingContext2D, face: FaceAnnotation, color: string, width: number, height: number, scale: ReturnType<typeof annotationScale>): void {
  const { lineWidth, fontSize, padding } = scale;
  const { x, y, width: w, height: h } = face.box;
  if (![x, y, w, h].every(Number.isFinite)) return;
  ctx.strokeStyle = color;
  ctx.lineWidth = lineWidth;
  // the stroke straddles the path: inset by half a line so the whole line lies on the box's own pixels
  const half = lineWidth / 2;
  ctx.strokeRect(x + half, y + half, Math.max(0, w - lineWidth), Math.max(0, h - lineWidth));
  if (!face.label) return;
  const textWidth = ctx.measureText(face.label).width;
  const labelWidth = Math.ceil(textWidth + 2 * padding);
  const labelHeight = Math.ceil(fontSize * 1.2 + padding);
  // above the box when there is room, else just inside its top edge; kept inside the image horizontally
  let top = y - labelHeight;
  if (top < 0) top = Math.max(0, Math.min(y, height - labelHeight));
  const left = Math.max(0, Math.min(x, width - labelWidth));
  ctx.fillStyle = color;
  ctx.fillRect(left, top, labelWidth, labelHeight);
  ctx.fillStyle = textColorOn(color);
  ctx.textBaseline = 'middle';
  ctx.fillText(face.label, left + padding, top + labelHeight / 2);
}

/**
 * Draw each face's box and label on a copy of the image and encode it (PNG or JPEG). Line width and text size scale
 * with the image; each label sits on a filled background in its box's colour (above the box, or inside at the top edge).
 */
export async function annotateImage(image: AnnotateImage, faces: FaceAnnotation[], options: AnnotateOptions = {}): Promise<Buffer> {
  const rgba = toRgba(image);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d');
  const imageData = ctx.createImageData(image.width, image.height);
  imageData.data.set(rgba);
  ctx.putImageData(imageData, 0, 0);
  const scale = annotationScale(image.width, image.height);
  ctx.font = `bold ${scale.fontSize}px ${fontFamily()}`;
  faces.forEach((face, i) => drawFace(ctx, face, ANNOTATION_COLORS[i % ANNOTATION_COLORS.length], image.width, image.height, scale));
  if ((options.format ?? 'png') === 'jpeg') return canvas.toBuffer('image/jpeg', { quality: options.quality ?? 0.9 });
  return canvas.toBuffer('image/png');
}
