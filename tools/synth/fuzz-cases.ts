import { createRng } from '@agekit/dataset';

/** Bad requests every age server must answer with a 4xx JSON error (the server spec of @agekit/face and the e2e spec of agekit serve). */
export interface FuzzCase {
  name: string;
  method: string;
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
  chunkBytes?: number;
  status: number;
  code: string;
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

/** A PNG file from its IHDR and IDAT chunk data (signature, CRC-correct chunks, IEND), e.g. a header that lies. */
export function pngFile(ihdr: Buffer, idat: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A PNG whose (valid, CRC-correct) header claims width x height, followed by a tiny IDAT: a decompression-bomb shape. */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return pngFile(ihdr, Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
}

/** Seeded random bytes that start with no known image signature. */
export function garbage(length: number, seed: number): Buffer {
  const rng = createRng(seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = rng.int(256);
  out[0] = 0x00;
  return out;
}

/**
 * The fuzz table. `validJpeg` is a real small JPEG (the truncated case cuts it); `maxBodyBytes` is the server's limit.
 */
export function fuzzCases(validJpeg: Buffer, maxBodyBytes: number): FuzzCase[] {
  const post = (name: string, body: Buffer | undefined, status: number, code: string, extra: Partial<FuzzCase> = {}): FuzzCase => ({ name, method: 'POST', path: '/api/predict', body, status, code, ...extra });
  return [
    post('random garbage', garbage(4096, 1), 415, 'not-an-image'),
    post('random garbage, 1 byte', garbage(1, 2), 415, 'not-an-image'),
    post('empty body', Buffer.alloc(0), 400, 'empty-body'),
    post('no body at all', undefined, 400, 'empty-body'),
    post('JPEG signature only', Buffer.from([0xff, 0xd8, 0xff]), 400, 'undecodable'),
    post('truncated JPEG (first 40%)', validJpeg.subarray(0, Math.floor(validJpeg.length * 0.4)), 400, 'undecodable'),
    post('JPEG with garbage after the header', Buffer.concat([validJpeg.subarray(0, 20), garbage(2000, 3)]), 400, 'undecodable'),
    post('PNG header claiming 100000x100000', pngClaiming(100_000, 100_000), 413, 'too-many-pixels'),
    post('PNG header claiming 0x0', pngClaiming(0, 0), 400, 'undecodable'),
    post('GIF', Buffer.from('GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;', 'latin1'), 415, 'unsupported-image-type'),
    post('PDF', Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n'), 415, 'not-an-image'),
    post('plain text labelled image/jpeg', Buffer.from('this is not a photo'), 415, 'not-an-image', { headers: { 'content-type': 'image/jpeg' } }),
    post('HTML form upload (multipart)', Buffer.from('--x\r\nContent-Disposition: form-data; name="f"\r\n\r\nabc\r\n--x--\r\n'), 415, 'not-an-image', { headers: { 'content-type': 'multipart/form-data; boundary=x' } }),
    post('bad detect query', validJpeg, 400, 'bad-query', { path: '/api/predict?detect=maybe' }),
    post('oversize body (Content-Length)', Buffer.alloc(maxBodyBytes + 1, 0xff), 413, 'body-too-large'),
    post('oversize body (chunked, no Content-Length)', Buffer.concat([validJpeg.subarray(0, 4), Buffer.alloc(maxBodyBytes * 4)]), 413, 'body-too-large', { chunkBytes: 16 * 1024 }),
    { name: 'GET /api/predict', method: 'GET', path: '/api/predict', status: 405, code: 'method-not-allowed' },
    { name: 'PUT /api/predict', method: 'PUT', path: '/api/predict', body: validJpeg, status: 405, code: 'method-not-allowed' },
    { name: 'POST /', method: 'POST', path: '/', body: validJpeg, status: 405, code: 'method-not-allowed' },
    { name: 'DELETE /healthz', method: 'DELETE', path: '/healthz', status: 405, code: 'method-not-allowed' },
    { name: 'unknown path', method: 'GET', path: '/etc/passwd', status: 404, code: 'not-found' },
    { name: 'path traversal', method: 'GET', path: '/../../etc/passwd', status: 404, code: 'not-found' },
    { name: 'predict with trailing slash', method: 'POST', path: '/api/predict/', body: validJpeg, status: 404, code: 'not-found' },
  ];
}
