import sharp from 'sharp';
import type { PixelImage } from '@agekit/dataset';
import { fuzzCases, listen, rawExchange, request } from '@agekit/synth';
import { createAgeServer } from './server';
import type { PhotoAnalyzer as ServeAnalyzer, PhotoResult as ServedResult } from '../photo-analyzer';

/** An in-test analyzer (dependency injection): one face = the whole image, age = mean red value; records calls. */
function fakeAnalyzer(delayMs = 0): ServeAnalyzer & { calls: Array<{ width: number; detect?: boolean }>; maxActive: number } {
  let active = 0;
  const self = {
    calls: [] as Array<{ width: number; detect?: boolean }>,
    maxActive: 0,
    async analyze(image: PixelImage, options?: { detect?: boolean }): Promise<ServedResult> {
      active++;
      self.maxActive = Math.max(self.maxActive, active);
      self.calls.push({ width: image.width, detect: options?.detect });
      try {
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        let red = 0;
        for (let i = 0; i < image.data.length; i += image.channels) red += image.data[i];
        const age = red / (image.width * image.height);
        return { width: image.width, height: image.height, faces: [{ box: { x: 0, y: 0, width: image.width, height: image.height }, score: null, expectedAge: age, top: [], group: null, label: `${Math.round(age)} y` }] };
      } finally {
        active--;
      }
    },
    async dispose(): Promise<void> {
      return undefined;
    },
  };
  return self;
}

async function jpeg(width: number, height: number, r = 40): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r, g: 100, b: 200 } } }).jpeg({ quality: 90 }).toBuffer();
}

describe('createAgeServer', () => {
  const servers: Array<{ close(): unknown; closeAllConnections(): void }> = [];
  afterAll(() => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });
  async function start(analyzer: ServeAnalyzer, limits = {}): Promise<number> {
    const server = createAgeServer({ analyzer, limits });
    servers.push(server);
    return listen(server, 0);
  }

  it('serves the page, health, and a prediction for raw image bytes of any Content-Type', async () => {
    const analyzer = fakeAnalyzer();
    const port = await start(analyzer);
    const page = await request(port, { path: '/' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<canvas id="canvas"');
    expect(page.text).toContain('type="file"');
    expect(page.text).not.toMatch(/<(script|link|img)[^>]+(src|href)=/); // no external assets
    const health = await request(port, { path: '/healthz' });
    expect(health.json).toMatchObject({ status: 'ok', active: 0, queued: 0 });

    const res = await request(port, { method: 'POST', path: '/api/predict', body: await jpeg(64, 48, 200), headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(200);
    const body = res.json as ServedResult;
    expect([body.width, body.height, body.faces.length]).toEqual([64, 48, 1]);
    expect(body.faces[0].expectedAge).toBeGreaterThan(190); // the analyzer saw the decoded red channel
    expect(analyzer.calls).toEqual([{ width: 64, detect: undefined }]);
    await request(port, { method: 'POST', path: '/api/predict?detect=0', body: await jpeg(10, 10) });
    expect(analyzer.calls[1]).toEqual({ width: 10, detect: false });
  });

  it('fuzz: every bad request gets its 4xx JSON error, and a valid request still gets 200 afterwards', async () => {
    const analyzer = fakeAnalyzer();
    const maxBodyBytes = 256 * 1024;
    const port = await start(analyzer, { maxBodyBytes });
    const valid = await jpeg(120, 90);
    const outcomes: string[] = [];
    for (const c of fuzzCases(valid, maxBodyBytes)) {
      const res = await request(port, c);
      const error = (res.json as { error?: { code: string; message: string } } | undefined)?.error;
      outcomes.push(`${c.name}: ${res.status} ${error?.code}`);
      expect(`${c.name}: ${res.status} ${error?.code}`).toBe(`${c.name}: ${c.status} ${c.code}`);
      expect(error?.message.length).toBeGreaterThan(5);
      if (res.status === 405) expect(res.headers['allow']).toBeTruthy();
    }
    expect(analyzer.calls).toHaveLength(0); // nothing bad reached the analyzer
    const ok = await request(port, { method: 'POST', path: '/api/predict', body: valid });
    expect(ok.status).toBe(200);
    expect((ok.json as ServedResult).width).toBe(120);
  });

  it('refuses images over the pixel limit from the header (413) and malformed HTTP (400 JSON), then keeps serving', async () => {
    const port = await start(fakeAnalyzer(), { maxPixels: 100 * 100 });
    const big = await request(port, { method: 'POST', path: '/api/predict', body: await jpeg(101, 100) });
    expect(big.status).toBe(413);
    expect(big.json).toMatchObject({ error: { code: 'too-many-pixels' } });
    expect((big.json as { error: { message: string } }).error.message).toContain('101x100');
    const raw = await rawExchange(port, 'THIS IS NOT HTTP\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect(raw).toContain('"code":"bad-request"');
    expect((await request(port, { method: 'POST', path: '/api/predict', body: await jpeg(100, 100) })).status).toBe(200);
  });

  it('an analyzer that throws gives 500 JSON, and the server keeps serving', async () => {
    let fail = true;
    const good = fakeAnalyzer();
    const analyzer: ServeAnalyzer = {
      analyze: async (image, o) => {
        if (fail) throw new Error('boom');
        return good.analyze(image, o);
      },
      dispose: async () => undefined,
    };
    const errors: unknown[] = [];
    const server = createAgeServer({ analyzer, onError: (e) => errors.push(e) });
    servers.push(server);
    const port = await listen(server);
    const res = await request(port, { method: 'POST', path: '/api/predict', body: await jpeg(8, 8) });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ error: { code: 'internal', message: 'internal server error' } });
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom']);
    fail = false;
    expect((await request(port, { method: 'POST', path: '/api/predict', body: await jpeg(8, 8) })).status).toBe(200);
  });

  it('reports one line per finished request through onLog', async () => {
    const logs: string[] = [];
    const server = createAgeServer({ analyzer: fakeAnalyzer(), onLog: (l) => logs.push(l) });
    servers.push(server);
    const port = await listen(server);
    await request(port, { path: '/healthz?x=1' });
    await request(port, { method: 'POST', path: '/api/predict', body: Buffer.alloc(0) });
    // the server logs on the response's 'close', which may come just after the client has read the end
    for (let i = 0; i < 100 && logs.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(logs.map((l) => l.replace(/ [\d.]+ms$/, ' Nms'))).toEqual(['GET /healthz 200 Nms', 'POST /api/predict 400 Nms']);
  });

  it('bounds concurrency: maxConcurrent run, maxQueue wait, the rest get 503', async () => {
    const analyzer = fakeAnalyzer(1000); // long enough that all 5 arrive while the first still runs, even on a loaded machine
    const port = await start(analyzer, { maxConcurrent: 1, maxQueue: 2 });
    const body = await jpeg(16, 16);
    const results = await Promise.all(Array.from({ length: 5 }, () => request(port, { method: 'POST', path: '/api/predict', body })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 503, 503]);
    const busy = results.find((r) => r.status === 503);
    expect(busy?.json).toMatchObject({ error: { code: 'busy' } });
    expect(busy?.headers['retry-after']).toBe('1');
    expect(analyzer.maxActive).toBe(1);
  });

  it('times out slow requests with 408 and keeps the slot until the analysis really ends', async () => {
    const analyzer = fakeAnalyzer(1500);
    const port = await start(analyzer, { timeoutMs: 200, maxConcurrent: 1 });
    const started = Date.now();
    const res = await request(port, { method: 'POST', path: '/api/predict', body: await jpeg(16, 16) });
    expect(res.status).toBe(408);
    expect(res.json).toMatchObject({ error: { code: 'timeout' } });
    expect(Date.now() - started).toBeLessThan(1400); // answered at the deadline, not when the analysis ended
    const health = await request(port, { path: '/healthz' });
    expect(health.json).toMatchObject({ active: 1 }); // the analysis still runs: concurrency stays bounded
    await new Promise((r) => setTimeout(r, 1500));
    expect((await request(port, { path: '/healthz' })).json).toMatchObject({ active: 0 });
  });

  it('a slow upload is cut off with 408 at the deadline', async () => {
    const port = await start(fakeAnalyzer(), { timeoutMs: 200 });
    const res = await rawExchange(port, 'POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n\xff\xd8\xff', { finish: false });
    expect(res).toMatch(/^HTTP\/1\.1 408/);
    expect(res).toContain('"code":"timeout"');
  });
});
