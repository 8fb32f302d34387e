/**
 * Load test of `agekit serve` on loopback, bounded in count and time. The server runs as the real CLI in its own
 * process (`agekit serve --bundle DIR --port 0`: real analyzer, onnxruntime; face-api detector for the --detect part);
 * this process is the client, posting raw JPEG bytes to /api/predict. Prints requests/second, p50/p99 latency and
 * failures, next to a reference measured in the same run: the bundle predictor (decode + predict, what ?detect=0 runs)
 * called directly in this process, one image at a time.
 *
 *   npx tsx tools/bench/serve/main.ts [--bundle DIR] [--requests 200] [--concurrency 8] [--max-concurrent 2] [--detect 6]
 *
 * Without --bundle it exports an untrained tiny bundle (simple-cnn 32x32, ages 1..80) to a temp folder, the way
 * apps/exporter does: the ages are meaningless, the timing of the pipeline is real. The image is a 200x200 face crop cut
 * from face-api's demo sample1.jpg (read from the installed package); --detect N also sends N full group photos
 * (1920x1280, 3 faces) with detection on. Exit 1 if any request failed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { decodeImage } from '@agekit/dataset';
import { buildModel, countParameters, defaultNormalization, loadModel, resolveTask, saveModel, type AgekitModelMetadata } from '@agekit/model';
import { initBackend } from '@agekit/runtime';
import { describeAgekitModel, loadBundlePredictor, writeBundle } from '@agekit/onnx';
import { formatLoad, percentile, runLoad } from '@agekit/synth';

const ROOT = resolve(__dirname, '../../..');

async function exportTinyBundle(parent: string): Promise<string> {
  await initBackend();
  const size = 32;
  const task = resolveTask({ kind: 'classification', minAge: 1, maxAge: 80 });
  const model = buildModel({ architecture: 'simple-cnn', size, channels: 3, classes: task.labels.length, head: 'classification', seed: 11 });
  const metadata: AgekitModelMetadata = {
    format: 'agekit-model',
    version: 1,
    architecture: 'simple-cnn',
    parameters: countParameters(model),
    task,
    input: { layout: 'NHWC', size, channels: 3, colour: 'rgb', resize: 'fill', normalization: defaultNormalization(3) },
    output: { kind: 'probabilities' },
    backend: tf.getBackend(),
    createdAt: new Date(0).toISOString(),
  };
  await saveModel(model, join(parent, 'model'), metadata);
  model.dispose();
  const loaded = await loadModel(join(parent, 'model'));
  writeBundle({ model: loaded.model, description: describeAgekitModel(loaded.metadata), out: join(parent, 'bundle'), sourceModel: join(parent, 'model') });
  loaded.model.dispose();
  return join(parent, 'bundle');
}

/** Start `agekit serve` as a child process; resolves with its port once it prints the URL. */
function startServer(bundle: string, maxConcurrent: number, queue: number, detect: boolean): Promise<{ port: number; stop(): Promise<number | null> }> {
  const args = [join(ROOT, 'apps/cli/src/main.ts'), 'serve', '--bundle', bundle, '--port', '0', '--quiet', '--max-concurrent', String(maxConcurrent), '--max-queue', String(queue)];
  if (!detect) args.push('--no-detect');
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolveStart, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`agekit serve did not start within 120 s:\n${out}`)), 120_000);
    child.once('exit', (code) => reject(new Error(`agekit serve exited (${code}) before listening:\n${out}`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveStart({
          port: Number(m[1]),
          stop: async () => {
            child.kill('SIGTERM');
            const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
            const code = await exited;
            clearTimeout(kill);
            return code;
          },
        });
      }
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      bundle: { type: 'string' },
      requests: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '8' },
      'max-concurrent': { type: 'string', default: '2' },
      detect: { type: 'string', default: '6' },
    },
  });
  const requests = Number(values.requests);
  const concurrency = Number(values.concurrency);
  const maxConcurrent = Number(values['max-concurrent']);
  const detectRequests = Number(values.detect);
  const photo = readFileSync(join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg'));
  const crop = await sharp(photo).extract({ left: 780, top: 180, width: 400, height: 400 }).resize(200, 200).jpeg({ quality: 90 }).toBuffer();
  const work = values.bundle ? undefined : mkdtempSync(join(tmpdir(), 'agekit-serve-bench-'));
  const bundle = values.bundle ? resolve(values.bundle) : await exportTinyBundle(work as string);
  let failed = 0;
  try {
    // Reference, same run: what ?detect=0 does per request (decode + predict), in this process, one at a time.
    const predictor = await loadBundlePredictor(bundle);
    for (let i = 0; i < 5; i++) await predictor.predict([await decodeImage(crop)]);
    const direct: number[] = [];
    const refStart = performance.now();
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await predictor.predict([await decodeImage(crop)]);
      direct.push(performance.now() - t0);
    }
    const refRps = direct.length / ((performance.now() - refStart) / 1000);
    await predictor.dispose();
    direct.sort((a, b) => a - b);
    console.log(`reference (in-process decode + predict, sequential, 50 x 200x200 JPEG): ${refRps.toFixed(1)} /s, p50 ${percentile(direct, 0.5).toFixed(1)} ms, p99 ${percentile(direct, 0.99).toFixed(1)} ms`);

    const server = await startServer(bundle, maxConcurrent, Math.max(16, concurrency), detectRequests > 0);
    try {
      await runLoad({ port: server.port, path: '/api/predict?detect=0', body: crop, requests: 10, concurrency: 2 }); // warm-up
      const r = await runLoad({ port: server.port, path: '/api/predict?detect=0', body: crop, requests, concurrency, maxSeconds: 30 });
      console.log(`HTTP load (agekit serve process, ${requests} requests, ${concurrency} clients, maxConcurrent ${maxConcurrent}, ?detect=0): ${formatLoad(r)}`);
      console.log(`  ratio: HTTP throughput / in-process sequential throughput = ${(r.requestsPerSecond / refRps).toFixed(2)}`);
      failed += requests - r.ok;
      if (detectRequests > 0) {
        await runLoad({ port: server.port, path: '/api/predict', body: photo, requests: 1, concurrency: 1, maxSeconds: 60 }); // detector warm-up
        const d = await runLoad({ port: server.port, path: '/api/predict', body: photo, requests: detectRequests, concurrency: 2, maxSeconds: 120 });
        console.log(`HTTP with detection (${detectRequests} x sample1.jpg 1920x1280, 3 faces, 2 clients): ${formatLoad(d)}`);
        failed += detectRequests - d.ok;
      }
    } finally {
      const code = await server.stop();
      console.log(`agekit serve stopped on SIGTERM with exit code ${code}`);
      if (code !== 0) failed++;
    }
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
  console.log(failed ? `FAILED: ${failed} failed requests` : 'no failed requests');
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
