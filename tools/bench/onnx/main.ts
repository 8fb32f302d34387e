#!/usr/bin/env node
/**
 * onnxruntime-node inference speed of the exported SqueezeNet (default 128 px, 31 classes, batch 1 and 32), beside
 * PyTorch's eval speed of torchvision's squeezenet1_1 measured in the same run by ../shared/reference/train_torch.py.
 *
 *   npx tsx tools/bench/onnx/main.ts [--size 128] [--classes 31] [--runs 20] [--threads 0] [--no-torch] [--json]
 *
 * Figures are only comparable within one run (the machine is shared); the ratio is the result.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildModel } from '@agekit/model';
import { convertLayersModel, createOnnxSession, runOnnx } from '@agekit/onnx';
import { sharedPath } from '../shared-paths';

const PYTHON = '/usr/bin/python3';
const TORCH_SCRIPT = sharedPath('reference', 'train_torch.py');

interface Measurement {
  batch: number;
  msPerBatch: number;
  imagesPerSecond: number;
}

async function measureOnnx(bytes: Uint8Array, size: number, batch: number, runs: number, threads: number): Promise<Measurement> {
  const session = await createOnnxSession(bytes, threads > 0 ? { threads } : {});
  const spec = { layout: 'NCHW' as const, inputName: 'input', outputName: 'output' };
  const x = new Float32Array(batch * size * size * 3);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * 2;
  const shape: [number, number, number, number] = [batch, size, size, 3];
  await runOnnx(session, x, shape, spec); // warm-up
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = process.hrtime.bigint();
    await runOnnx(session, x, shape, spec);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  await session.release();
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  return { batch, msPerBatch: median, imagesPerSecond: (batch * 1000) / median };
}

function measureTorch(size: number, batch: number, steps: number, threads: number): { imagesPerSecond?: number; note: string } {
  if (!existsSync(PYTHON) || !existsSync(TORCH_SCRIPT)) return { note: `skipped: ${PYTHON} or ${TORCH_SCRIPT} missing` };
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.status !== 0) return { note: 'skipped: python3-torch / python3-torchvision not installed' };
  const args = [TORCH_SCRIPT, String(size), String(batch), String(steps)];
  if (threads > 0) args.push(String(threads));
  const run = spawnSync(PYTHON, args, { encoding: 'utf8' });
  const match = /infer_img_per_s=([0-9.]+)/.exec(run.stdout);
  if (run.status !== 0 || !match) return { note: `failed: ${run.stderr.trim().split('\n').pop() ?? ''}` };
  return { imagesPerSecond: Number(match[1]), note: run.stdout.trim() };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '128' },
      classes: { type: 'string', default: '31' },
      runs: { type: 'string', default: '20' },
      threads: { type: 'string', default: '0' },
      'no-torch': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  const size = Number(values.size);
  const classes = Number(values.classes);
  const runs = Number(values.runs);
  const threads = Number(values.threads);
  if (![size, classes, runs].every((v) => Number.isInteger(v) && v > 0) || !(Number.isInteger(threads) && threads >= 0)) {
    process.stderr.write('usage: main.ts [--size 128] [--classes 31] [--runs 20] [--threads 0 (all)] [--no-torch] [--json]\n');
    return 2;
  }
  await tf.setBackend('cpu');
  const model = buildModel({ architecture: 'squeezenet', size, channels: 3, classes, head: 'classification', seed: 0 });
  const converted = convertLayersModel(model);
  const params = model.countParams();
  model.dispose();

  const onnx = [await measureOnnx(converted.bytes, size, 1, runs, threads), await measureOnnx(converted.bytes, size, 32, Math.max(3, Math.ceil(runs / 4)), threads)];
  const torch = values['no-torch'] ? [] : [1, 32].map((batch) => ({ batch, ...measureTorch(size, batch, batch === 1 ? 12 : 6, threads) }));

  const result = { model: 'squeezenet (agekit, exported)', params, size, classes, threads: threads || 'all', onnxruntime: onnx, torch };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  const lines = [`squeezenet ${size}px, ${classes} classes, ${params} params, onnxruntime-node CPU, threads=${threads || 'all'}`, '| batch | onnxruntime ms/batch | onnxruntime img/s | PyTorch eval img/s | ratio |', '|---|---|---|---|---|'];
  for (const m of onnx) {
    const t = torch.find((x) => x.batch === m.batch);
    const ratio = t?.imagesPerSecond ? `${(m.imagesPerSecond / t.imagesPerSecond).toFixed(2)}x` : '-';
    lines.push(`| ${m.batch} | ${m.msPerBatch.toFixed(2)} | ${m.imagesPerSecond.toFixed(1)} | ${t?.imagesPerSecond?.toFixed(1) ?? '-'} | ${ratio} |`);
  }
  for (const t of torch) lines.push(`torch batch ${t.batch}: ${t.note}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
