import { existsSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { chromium } from 'playwright-core';
import type { PhotoAnalyzer, PhotoResult } from '@agekit/face';
import { formatLoad, fuzzCases, listen, request, runLoad } from '@agekit/synth';
import { exportTinyBundle } from './test-bundle.testing';

/**
 * End to end with the real analyzer (face-api SSD detector + alignment + onnxruntime on an exported bundle of an
 * untrained model: the ages are meaningless, the pipeline is real) behind the real server.
 */
jest.setTimeout(180_000);


const CHROMIUM = '/usr/bin/chromium';
const SAMPLE1 = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!!! BROWSER TEST SKIPPED: ${CHROMIUM} is absent (apt-get install chromium) !!!\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n`);
}

let bundleRoot: string;
let analyzer: PhotoAnalyzer;
let server: http.Server;
let port: number;
const serverErrors: string[] = [];

beforeAll(async () => {
  const bundle = await exportTinyBundle();
  bundleRoot = dirname(bundle);
  // loaded lazily, as the commands do
  const [{ createAgeServer, createPhotoAnalyzer }, { loadBundlePredictor }] = await Promise.all([import('@agekit/face'), import('@agekit/onnx')]);
  analyzer = await createPhotoAnalyzer({ predictor: await loadBundlePredictor(bundle) });
  server = createAgeServer({ analyzer, limits: { maxBodyBytes: 2 * 1024 * 1024 }, onError: (e) => serverErrors.push(String(e)) });
  port = await listen(server, 0);
});

afterAll(async () => {
  if (serverErrors.length) console.error(`server errors:\n${serverErrors.slice(0, 3).join('\n')}`);
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await analyzer?.dispose();
  if (bundleRoot) rmSync(bundleRoot, { recursive: true, force: true });
});

(haveChromium ? it : it.skip)('browser: uploading a group photo shows 3 faces with ages, drawn on the canvas', async () => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.setInputFiles('#file', SAMPLE1);
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 150_000 });
    const status = await page.textContent('#status');
    expect(await page.getAttribute('body', 'data-state')).toBe('done');
    expect(status).toContain('3 faces');
    const faces = await page.$$eval('#faces li.face', (items) => items.map((li) => ({ text: li.textContent ?? '', age: Number(li.getAttribute('data-age')), box: JSON.parse(li.getAttribute('data-box') ?? 'null') as { x: number; y: number; width: number; height: number } })));
    expect(faces).toHaveLength(3);
    for (const face of faces) {
      expect(face.age).toBeGreaterThanOrEqual(1);
      expect(face.age).toBeLessThanOrEqual(80);
      expect(face.text).toMatch(/^Face \d: \d+ y/);
      expect(face.text).toContain(`expected age ${face.age.toFixed(1)}`);
    }
    // The canvas holds the photo at full size with a green box edge on each face, and the photo itself inside the box.
    // (a string, so this Node-typed file needs no DOM types)
    const drawn = (await page.evaluate(`(() => {
      const boxes = ${JSON.stringify(faces.map((f) => f.box))};
      const canvas = document.getElementById('canvas');
      const ctx = canvas.getContext('2d');
      const px = (x, y) => Array.from(ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data);
      return { width: canvas.width, height: canvas.height, edges: boxes.map((b) => px(b.x, b.y + b.height / 2)), centres: boxes.map((b) => px(b.x + b.width / 2, b.y + b.height / 2)) };
    })()`)) as { width: number; height: number; edges: number[][]; centres: number[][] };
    expect([drawn.width, drawn.height]).toEqual([1920, 1280]);
    for (const [r, g, b] of drawn.edges) expect([r, g, b]).toEqual([0, 230, 118]); // #00e676, the stroke colour
    for (const [r, g, b, a] of drawn.centres) {
      expect(a).toBe(255);
      expect(Math.abs(r - 0) + Math.abs(g - 230) + Math.abs(b - 118)).toBeGreaterThan(60); // a face, not the stroke
    }
    // The page showed what the API answers.
    const api = await request(port, { method: 'POST', path: '/api/predict', body: readFileSync(SAMPLE1) });
    expect((api.json as PhotoResult).faces.map((f) => f.box)).toEqual(faces.map((f) => f.box));
    // Bad uploads end in a readable error on the page, not a broken one.
    await page.setInputFiles('#file', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a photo at all') });
    await page.waitForSelector('body[data-state="error"]');
    expect(await page.textContent('#status')).toContain('Error 415');
    expect(await page.$$('#faces li')).toHaveLength(0);
    await page.setInputFiles('#file', { name: 'huge.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(3 * 1024 * 1024, 0xff) });
    await page.waitForFunction(() => /accepts up to 2\.0 MB/.test(String((globalThis as { document?: { getElementById(id: string): { textContent: string | null } } }).document?.getElementById('status').textContent)));
    expect(pageErrors).toEqual([]);
  } finally {
    await browser.close();
  }
});

it('fuzz against the real analyzer: every bad request gets a 4xx JSON error, then a valid photo still gets 200', async () => {
  const valid = await sharp(readFileSync(SAMPLE1)).resize(240).jpeg().toBuffer();
  for (const c of fuzzCases(valid, 2 * 1024 * 1024)) {
    const res = await request(port, c);
    const code = (res.json as { error?: { code: string } } | undefined)?.error?.code;
    expect(`${c.name}: ${res.status} ${code}`).toBe(`${c.name}: ${c.status} ${c.code}`);
  }
  const ok = await request(port, { method: 'POST', path: '/api/predict?detect=0', body: valid });
  expect(ok.status).toBe(200);
  const result = ok.json as PhotoResult;
  expect([result.width, result.faces.length, result.faces[0].score]).toEqual([240, 1, null]);
  expect(result.faces[0].expectedAge).toEqual(expect.any(Number));
});

it('load: 200 requests at concurrency 8 on loopback, no failures (figures printed)', async () => {
  const crop = await sharp(readFileSync(SAMPLE1)).extract({ left: 780, top: 180, width: 400, height: 400 }).resize(200, 200).jpeg({ quality: 90 }).toBuffer();
  await runLoad({ port, requests: 8, concurrency: 4, body: crop, path: '/api/predict?detect=0' }); // warm-up
  const report = await runLoad({ port, requests: 200, concurrency: 8, body: crop, path: '/api/predict?detect=0', maxSeconds: 30 });
  console.log(`serve load (200x200 JPEG face crop, ?detect=0, real onnx analyzer, maxConcurrent 2): ${formatLoad(report)}`);
  expect(report.failures).toEqual({});
  expect(report.ok).toBe(200);
  expect(report.seconds).toBeLessThan(30);
  expect(report.p99Ms).toBeGreaterThanOrEqual(report.p50Ms);
});
