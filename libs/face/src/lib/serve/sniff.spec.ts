import { sniffUpload } from './sniff';

describe('sniffUpload', () => {
  const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
  it('accepts JPEG, PNG and WebP by magic bytes only', () => {
    expect(sniffUpload(bytes(0xff, 0xd8, 0xff, 0xe0))).toEqual({ ok: true, format: 'jpeg' });
    expect(sniffUpload(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a))).toEqual({ ok: true, format: 'png' });
    expect(sniffUpload(Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1'))).toEqual({ ok: true, format: 'webp' });
  });
  it('refuses empty bodies, other image types and non-images', () => {
    expect(sniffUpload(bytes())).toMatchObject({ ok: false, status: 400, code: 'empty-body' });
    expect(sniffUpload(Buffer.from('GIF89a....'))).toMatchObject({ ok: false, status: 415, code: 'unsupported-image-type' });
    expect(sniffUpload(Buffer.from('BM......'))).toMatchObject({ ok: false, status: 415, code: 'unsupported-image-type' });
    expect(sniffUpload(Buffer.from('%PDF-1.7\n'))).toMatchObject({ ok: false, status: 415, code: 'not-an-image' });
    expect(sniffUpload(Buffer.from('hello, this is text'))).toMatchObject({ ok: false, status: 415, code: 'not-an-image' });
    expect(sniffUpload(Buffer.from('XXXXXXXXWEBP'))).toMatchObject({ ok: false, status: 415, code: 'not-an-image' });
  });
});
