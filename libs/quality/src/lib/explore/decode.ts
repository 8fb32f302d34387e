import { createRequire } from 'node:module';
import type { Canvas } from 'canvas';
import type { PixelImage } from '@agekit/dataset';
import { loadDataset } from './dataset-lazy';
import { readJpegHeader } from './jpeg-header';

/**
 * Decoding for the explore stage. Plain 8-bit JPEGs (gray or colour, no EXIF rotation, complete)
 * are decoded with node-canvas (libjpeg-turbo called directly: ~3x less per-image overhead than
 * sharp/libvips on small images); every other file goes through @agekit/dataset's decodeImage
 * (sharp), which also produces the error reasons. Both give the pixels OpenCV's imread gives for
 * the fast-path files (checked in tools/bench/explore).
 */
export interface DecodedForMetrics {
  image: PixelImage;
  /** Format sniffed from the bytes (jpeg, png, ...). */
  format: string;
  /** Channels as stored: 1 gray, 3 colour, 4 with alpha / CMYK. */
  sourceChannels: number;
  /** Which decoder produced the pixels. */
  decoder: 'canvas' | 'sharp';
}

type CanvasModule = typeof import('canvas');

let canvasModule: CanvasModule | null | undefined;

/**
 * node-canvas, loaded on first use; null when it cannot be loaded (not installed, no prebuilt binary for
 * this platform), in which case every file goes through sharp. Loaded with a runtime require so the
 * esbuild bundle of an app keeps it external (it is a native addon).
 */
function loadCanvas(): CanvasModule | null {
  if (canvasModule === undefined) {
    try {
      canvasModule = createRequire(__filename)('canvas') as CanvasModule;
    } catch {
      canvasModule = null;
    }
  }
  return canvasModule;
}

let canvas: Canvas | undefined;

/** One canvas per process, grown when needed (creating a canvas per image costs more than decoding it). */
function canvasFor(lib: CanvasModule, width: number, height: number): Canvas {
  if (!canvas || canvas.width < width || canvas.height < height) {
    canvas = lib.createCanvas(Math.max(width, canvas?.width ?? 0), Math.max(height, canvas?.height ?? 0));
  }
  return canvas;
}

function decodeJpegWithCanvas(bytes: Buffer, width: number, height: number): PixelImage | undefined {
  const lib = loadCanvas();
  if (!lib) return undefined;
  const img = new lib.Image();
  let failed = false;
  img.onerror = () => {
    failed = true;
  };
  try {
    img.src = bytes;
  } catch {
    return undefined;
  }
  if (failed || img.width !== width || img.height !== height) return undefined;
  const ctx = canvasFor(lib, width, height).getContext('2d');
  // an opaque JPEG covers its whole w x h corner, and only that corner is read back
  ctx.drawImage(img, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  return { width, height, channels: 4, data: new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength) };
}

export interface DecodeForMetricsOptions {
  maxPixels: number;
  /** Use only sharp (default false). */
  sharpOnly?: boolean;
}

/** Decode one file's bytes for measuring; throws ImageDecodeError naming the file and the reason. */
export async function decodeForMetrics(bytes: Buffer, file: string, options: DecodeForMetricsOptions): Promise<DecodedForMetrics> {
  // a JPEG starts FF D8 FF (@agekit/dataset's sniffImageFormat); anything else is sniffed by @agekit/dataset below
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (isJpeg && !options.sharpOnly) {
    const format = 'jpeg';
    const header = readJpegHeader(bytes);
    if (header && header.complete && header.precision === 8 && (header.components === 1 || header.components === 3) && header.orientation === 1) {
      if (header.width * header.height > options.maxPixels) {
        const { ImageDecodeError } = loadDataset();
        throw new ImageDecodeError(file, 'too-large', `${header.width}x${header.height} = ${header.width * header.height} pixels exceeds the limit of ${options.maxPixels}`);
      }
      const image = header.width > 0 && header.height > 0 ? decodeJpegWithCanvas(bytes, header.width, header.height) : undefined;
      if (image && header.components === 1) {
        // a gray JPEG: keep one channel (as sharp's 'keep' does), so metrics and hashes match either decoder
        const n = header.width * header.height;
        const gray = new Uint8Array(n);
        for (let i = 0; i < n; i++) gray[i] = image.data[i * 4];
        return { image: { width: header.width, height: header.height, channels: 1, data: gray }, format, sourceChannels: 1, decoder: 'canvas' };
      }
      if (image) return { image, format, sourceChannels: header.components, decoder: 'canvas' };
    }
  }
  const { decodeImage, ImageDecodeError, sniffImageFormat } = loadDataset();
  if (bytes.length === 0) throw new ImageDecodeError(file, 'empty', 'zero-byte file');
  const format = sniffImageFormat(bytes);
  const image = await decodeImage(bytes, { file, maxPixels: options.maxPixels, channels: 'keep' });
  return { image, format: format ?? 'unknown', sourceChannels: image.channels, decoder: 'sharp' };
}
