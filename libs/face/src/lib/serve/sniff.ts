import { sniffImageFormat } from '@agekit/dataset';

/** Formats the server decodes. Anything else is refused before decoding. */
export const ACCEPTED_FORMATS = ['jpeg', 'png', 'webp'] as const;
export type AcceptedFormat = (typeof ACCEPTED_FORMATS)[number];

export type SniffResult =
  | { ok: true; format: AcceptedFormat }
  | { ok: false; status: 400 | 415; code: 'empty-body' | 'unsupported-image-type' | 'not-an-image'; message: string };

/** Classify an upload by its first bytes (never by a name or Content-Type). */
export function sniffUpload(bytes: Uint8Array): SniffResult {
  if (bytes.length === 0) return { ok: false, status: 400, code: 'empty-body', message: 'the request body is empty; send the image bytes' };
  const format = sniffImageFormat(bytes);
  // sniffImageFormat checks only 'WEBP' at offset 8; a WebP file is a RIFF container.
  const riff = bytes.length >= 4 && bytes[0] === 0x52 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x46;
  if (format === 'jpeg' || format === 'png' || (format === 'webp' && riff)) return { ok: true, format };
  if (format && format !== 'webp') {
    return { ok: false, status: 415, code: 'unsupported-image-type', message: `${format.toUpperCase()} images are not accepted; send JPEG, PNG or WebP` };
  }
  return { ok: false, status: 415, code: 'not-an-image', message: 'the body is not a JPEG, PNG or WebP image (sniffed from its first bytes)' };
}
