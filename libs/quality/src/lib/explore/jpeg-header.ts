/** What the fast decoder needs to know about a JPEG before decoding it (read from its markers only). */
export interface JpegHeader {
  width: number;
  height: number;
  /** Colour components: 1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK. */
  components: number;
  /** Bits per sample (8 or 12). */
  precision: number;
  /** EXIF orientation (1 when absent). */
  orientation: number;
  /** The file ends with an EOI marker (FFD9): not truncated. */
  complete: boolean;
}

function exifOrientation(b: Uint8Array, start: number, end: number): number {
  // APP1 payload: "Exif\0\0" then a TIFF header
  if (end - start < 14 || b[start] !== 0x45 || b[start + 1] !== 0x78 || b[start + 2] !== 0x69 || b[start + 3] !== 0x66) return 1;
  const tiff = start + 6;
  const little = b[tiff] === 0x49;
  const u16 = (o: number): number => (little ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1]);
  const u32 = (o: number): number => (little ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000 : b[o] * 0x1000000 + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]));
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > end) return 1;
  const count = u16(ifd);
  for (let k = 0; k < count; k++) {
    const entry = ifd + 2 + k * 12;
    if (entry + 12 > end) break;
    if (u16(entry) === 0x0112) {
      const v = u16(entry + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/** Parse a JPEG's markers up to the first scan. Undefined when it is not a JPEG or has no frame header. */
export function readJpegHeader(b: Uint8Array): JpegHeader | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let end = b.length;
  while (end > 2 && b[end - 1] === 0x00) end--; // tolerate zero padding after EOI
  const complete = b[end - 2] === 0xff && b[end - 1] === 0xd9;
  let orientation = 1;
  let frame: Omit<JpegHeader, 'orientation' | 'complete'> | undefined;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return frame ? { ...frame, orientation, complete } : undefined;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) break;
    const length = (b[i + 2] << 8) | b[i + 3];
    const body = i + 4;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc && body + 6 <= b.length) {
      frame = { precision: b[body], height: (b[body + 1] << 8) | b[body + 2], width: (b[body + 3] << 8) | b[body + 4], components: b[body + 5] };
    } else if (marker === 0xe1) {
      const o = exifOrientation(b, body, Math.min(b.length, i + 2 + length));
      if (o !== 1) orientation = o;
    }
    i += 2 + length;
  }
  return frame ? { ...frame, orientation, complete } : undefined;
}
