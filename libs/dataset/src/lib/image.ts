import { promises as fs } from 'node:fs';
import type { Metadata, Sharp, SharpOptions } from 'sharp';
import { ImageDecodeError } from './errors';

let sharpModule: typeof import('sharp') | undefined;

/** sharp, loaded on first use: loading it costs ~50 ms, and explore's native engine often never needs it. */
function sharp(input: Buffer, options: SharpOptions): Sharp {
  sharpModule ??= require('sharp') as typeof import('sharp');
  return sharpModule(input, options);
}

/** Decoded pixels, interleaved, row-major, 8 bits per channel. Channels: 1 gray, 3 RGB, 4 RGBA. */
export interface PixelImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (decompression bombs). Default 50,000,000 (~7071x7071). */
  maxPixels?: number;
  /** Output channels: 3 (RGB, default), 1 (gray as OpenCV's BGR2GRAY of the RGB), or 'keep' (1, 3 or 4 as stored). */
  channels?: 1 | 3 | 'keep';
  /** Name to put in errors when `input` is a Buffer. */
  file?: string;
}

export const DEFAULT_MAX_PIXELS = 50_000_000;

const SIGNATURES: Array<{ format: string; bytes: number[]; offset?: number }> = [
  { format: 'jpeg', bytes: [0xff, 0xd8, 0xff] },
  { format: 'png', bytes: [0x89, 0x50, 0x4e, 0x47] },
  { format: 'gif', bytes: [0x47, 0x49, 0x46, 0x38] },
  { format: 'webp', bytes: [0x57, 0x45, 0x42, 0x50], offset: 8 },
  { format: 'tiff', bytes: [0x49, 0x49, 0x2a, 0x00] },
  { format: 'tiff', bytes: [0x4d, 0x4d, 0x00, 0x2a] },
  { format: 'bmp', bytes: [0x42, 0x4d] },
];

/** The image format named by a buffer's first bytes (not its file name), or undefined. */
export function sniffImageFormat(bytes: Uint8Array): string | undefined {
  for (const sig of SIGNATURES) {
    const off = sig.offset ?? 0;
    if (bytes.length >= off + sig.bytes.length && sig.bytes.every((b, i) => bytes[off + i] === b)) {
      return sig.format;
    }
  }
  // AVIF/HEIF: ....ftyp
  if (bytes.length >= 12 && bytes[4] === 0x66 && bytes[5] === 0x74 && bytes[6] === 0x79 && bytes[7] === 0x70) {
    return 'heif';
  }
  return undefined;
}

/** Read a file's bytes, turning file-system failures into ImageDecodeError. */
export async function readImageBytes(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageDecodeError(file, 'not-found', 'no such file');
    if (code === 'EACCES' || code === 'EPERM') throw new ImageDecodeError(file, 'unreadable', 'permission denied');
    if (code === 'EISDIR') throw new ImageDecodeError(file, 'unreadable', 'is a directory');
    throw new ImageDecodeError(file, 'unreadable', (error as Error).message);
  }
}

/**
 * Decode an image file or buffer with sharp: EXIF orientation applied, 16-bit reduced to 8-bit,
 * CMYK and palette converted to sRGB, alpha dropped unless channels = 'keep'.
 * Every failure is an ImageDecodeError naming the file and the reason.
 */
export async function decodeImage(input: string | Buffer, options: DecodeOptions = {}): Promise<PixelImage> {
  const file = typeof input === 'string' ? input : (options.file ?? '<buffer>');
  const bytes = typeof input === 'string' ? await readImageBytes(input) : input;
  return decodeImageBytes(bytes, file, options);
}

/** Check a buffer is a non-empty image of a known format, without decoding; returns the format. */
export function assertImageBytes(bytes: Uint8Array, file: string): string {
  if (bytes.length === 0) throw new ImageDecodeError(file, 'empty', 'zero-byte file');
  const format = sniffImageFormat(bytes);
  if (!format) throw new ImageDecodeError(file, 'unsupported-format', 'not a JPEG, PNG, GIF, WebP, TIFF, BMP or HEIF file');
  return format;
}

async function decodeImageBytes(bytes: Buffer, file: string, options: DecodeOptions): Promise<PixelImage> {
  assertImageBytes(bytes, file);
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const want = options.channels ?? 3;
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new ImageDecodeError(file, 'corrupt', (error as Error).message);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > maxPixels) {
    throw new ImageDecodeError(file, 'too-large', `${w}x${h} = ${w * h} pixels exceeds the limit of ${maxPixels}`);
  }
  try {
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).rotate();
    if (want === 1) {
      // Flatten alpha onto black like OpenCV's imread (which drops alpha), then BT.601 luma.
      pipeline = pipeline.removeAlpha().toColourspace('srgb');
      const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
      return toGray(new Uint8Array(data.buffer, data.byteOffset, data.length), info.width, info.height, info.channels);
    }
    if (want === 3) pipeline = pipeline.removeAlpha();
    // gray stays gray for 'keep'; everything else (CMYK, palette, 16-bit, Lab) becomes 8-bit sRGB
    const grayInput = (meta.channels ?? 3) <= 2 && meta.space !== 'cmyk';
    pipeline = pipeline.toColourspace(want === 'keep' && grayInput ? 'b-w' : 'srgb');
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    let channels = info.channels as number;
    let pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
    if (channels === 2) {
      // gray + alpha: keep gray
      pixels = dropEvery(pixels, 2);
      channels = 1;
    }
    if (want === 3 && channels === 1) {
      pixels = grayToRgb(pixels);
      channels = 3;
    }
    return { width: info.width, height: info.height, channels: channels as 1 | 3 | 4, data: pixels };
  } catch (error) {
    if (error instanceof ImageDecodeError) throw error;
    const message = (error as Error).message;
    if (/pixel limit/i.test(message)) throw new ImageDecodeError(file, 'too-large', message);
    throw new ImageDecodeError(file, 'corrupt', message);
  }
}

function dropEvery(src: Uint8Array, stride: number): Uint8Array {
  const out = new Uint8Array(src.length / stride);
  for (let i = 0, j = 0; j < out.length; i += stride, j++) out[j] = src[i];
  return out;
}

function grayToRgb(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length * 3);
  for (let i = 0, j = 0; i < src.length; i++, j += 3) {
    out[j] = out[j + 1] = out[j + 2] = src[i];
  }
  return out;
}

/**
 * Gray as OpenCV's cvtColor(COLOR_BGR2GRAY) computes it for 8-bit images (OpenCV 4.x):
 * Y = (R*9798 + G*19235 + B*3735 + 16384) >> 15 (BT.601 weights in 15-bit fixed point).
 * Checked equal to cv2 4.6 on all 16,777,216 colours (the 14-bit variant differs on 43,864).
 */
export function rgbToGray(rgb: Uint8Array, width: number, height: number, channels = 3): Uint8Array {
  const n = width * height;
  const out = new Uint8Array(n);
  if (channels === 1) {
    out.set(rgb.subarray(0, n));
    return out;
  }
  for (let i = 0, j = 0; i < n; i++, j += channels) {
    out[i] = (rgb[j] * 9798 + rgb[j + 1] * 19235 + rgb[j + 2] * 3735 + 16384) >> 15;
  }
  return out;
}

function toGray(data: Uint8Array, width: number, height: number, channels: number): PixelImage {
  if (channels === 1) return { width, height, channels: 1, data: new Uint8Array(data) };
  return { width, height, channels: 1, data: rgbToGray(data, width, height, channels) };
}

/** Grayscale view of any PixelImage (a copy for 1-channel input). */
export function toGrayImage(image: PixelImage): PixelImage {
  return toGray(image.data, image.width, image.height, image.channels);
}

export type EncodeFormat = 'jpeg' | 'png' | 'webp';

/** Encode pixels to an image file buffer. JPEG quality defaults to 95, chroma 4:4:4, for fidelity. */
export async function encodeImage(image: PixelImage, format: EncodeFormat = 'png', quality = 95): Promise<Buffer> {
  const s = sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: image.channels },
  });
  if (format === 'jpeg') return s.jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
  if (format === 'webp') return s.webp({ quality }).toBuffer();
  return s.png({ compressionLevel: 6 }).toBuffer();
}

/** The format a file name's extension asks for, when agekit can write it (.jpg/.jpeg, .png, .webp); else undefined. */
export function encodeFormatOf(file: string): EncodeFormat | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.jpg') || lower.endsWith('.jpeg')) return 'jpeg';
  if (lower.endsWith('.webp')) return 'webp';
  if (lower.endsWith('.png')) return 'png';
  return undefined;
}

/** The encode format for a file name's extension (.jpg/.jpeg -> jpeg, .webp -> webp, else png). */
export function formatForPath(file: string): EncodeFormat {
  return encodeFormatOf(file) ?? 'png';
}
