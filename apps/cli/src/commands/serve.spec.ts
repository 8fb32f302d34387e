import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { runCli } from '../main';
import { captureTerminal } from '../lib/terminal.testing';
import { exportTinyBundle } from '../serve/test-bundle.testing';
import { request } from '@agekit/synth';

jest.setTimeout(120_000);


async function waitFor<T>(probe: () => T | undefined, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('agekit serve', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await exportTinyBundle();
  });
  afterAll(() => {
    if (bundle) rmSync(dirname(bundle), { recursive: true, force: true });
  });

  it('usage errors exit 2 without loading anything', async () => {
    const a = captureTerminal();
    expect(await runCli(['serve'], a.term)).toBe(2);
    expect(a.stderr()).toContain('--bundle DIR is required');
    const b = captureTerminal();
    expect(await runCli(['serve', '--bundle', bundle, '--port', '70000'], b.term)).toBe(2);
    expect(b.stderr()).toContain('--port must be a whole number in 0..65535 (got 70000)');
    const c = captureTerminal();
    expect(await runCli(['serve', '--bundle', bundle, '--max-concurrent', '0'], c.term)).toBe(2);
    expect(c.stderr()).toContain('--max-concurrent must be a whole number >= 1 (got 0)');
  });

  it('prints the URL, serves predictions, and closes gracefully on a real SIGTERM (exit 0)', async () => {
    // the real CLI in its own process: a real signal, and no state shared with other specs in this jest worker
    const root = resolve(__dirname, '../../../..');
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/cli/src/main.ts'), 'serve', '--bundle', bundle, '--port', '0', '--no-detect', '--max-body-mb', '0.5'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)?.[1], 90_000).catch((error: Error) => {
        throw new Error(`${error.message}; stdout:\n${stdout}\nstderr:\n${stderr}`);
      });
      const port = Number(new URL(url).port);
      const page = await request(port, { path: '/' });
      expect(page.status).toBe(200);
      const face = await sharp({ create: { width: 120, height: 120, channels: 3, background: { r: 180, g: 140, b: 120 } } }).png().toBuffer();
      const res = await request(port, { method: 'POST', path: '/api/predict', body: face });
      expect(res.status).toBe(200);
      const body = res.json as { width: number; faces: Array<{ score: number | null; expectedAge: number; label: string }> };
      expect([body.width, body.faces.length, body.faces[0].score]).toEqual([120, 1, null]); // --no-detect: the whole image
      expect(body.faces[0].label).toMatch(/^\d+ y/);
      const big = await request(port, { method: 'POST', path: '/api/predict', body: Buffer.alloc(600 * 1024, 0xff) });
      expect(big.status).toBe(413); // --max-body-mb reached the server
      await waitFor(() => (/POST \/api\/predict 200 /.test(stdout) ? true : undefined), 10_000); // a log line per request

      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(stdout).toContain('closed');
      await expect(request(port, { path: '/healthz' })).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
