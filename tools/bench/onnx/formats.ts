#!/usr/bin/env node
/**
 * float32 vs float16 vs int8 (min/max and percentile calibration) bundles of one trained model, side by side in one run: model.onnx size, onnxruntime-node ms/img
 * at batch 1 and 32 on 1 and 2 threads, the C++ example's (OpenCV dnn) ms/img, and the MAE on a labelled split.
 *
 *   npx tsx tools/bench/onnx/formats.ts --model DIR --data TEST_DIR --calibration-data TRAIN_DIR
 *     [--images 1000] [--calibration-images 256] [--runs 20] [--cpp-images 64] [--profile] [--sweep] [--json]
 *
 * Timings are medians over --runs on a shared machine: compare within one run. The C++ figure is (time for M images - time
 * for 1 image) / (M - 1), so it leaves out loading the model; it includes decoding and preprocessing each image, and OpenCV
 * uses its own thread pool. --profile adds onnxruntime's own per-op kernel times (batch 1, 1 thread) of float32 and int8,
 * which show where int8 gains and where it loses on this CPU. Besides the default int8 placement (DEFAULT_INT8_PLACEMENT: which
 * kinds of node stay float) it always runs every node in int8; --sweep adds the default with each kind flipped on its own.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readDataset } from '@agekit/dataset';
import { loadModel } from '@agekit/model';
import {
  ALL_INT8_PLACEMENT,
  buildCppExample,
  createOnnxSession,
  DEFAULT_INT8_PLACEMENT,
  describeAgekitModel,
  expectedAgeOf,
  exportBundle,
  findCppToolchain,
  nhwcToNchw,
  normalizePixels,
  readImagePixels,
  runOnnx,
  writePresizedImage,
  type Bundle,
  type Int8Placement,
  type ModelFormat,
} from '@agekit/onnx';

interface Variant {
  label: string;
  format: ModelFormat;
  method?: 'minmax' | 'percentile';
  placement?: Partial<Int8Placement>;
}

const VARIANTS: Variant[] = [
  { label: 'float32', format: 'float32' },
  { label: 'float16', format: 'float16' },
  { label: 'int8 (min/max)', format: 'int8', method: 'minmax' },
  { label: 'int8 (percentile 99.99)', format: 'int8', method: 'percentile' },
  { label: 'int8 (min/max), every node int8', format: 'int8', method: 'minmax', placement: ALL_INT8_PLACEMENT },
];

/** --sweep: the default placement with one kind of node flipped, to measure each choice on its own. */
function sweepVariants(): Variant[] {
  return (Object.keys(DEFAULT_INT8_PLACEMENT) as Array<keyof Int8Placement>).map((key) => {
    const flipped = DEFAULT_INT8_PLACEMENT[key] === 'int8' ? 'float' : 'int8';
    return { label: `int8 (min/max), ${key} ${flipped}`, format: 'int8', method: 'minmax', placement: { [key]: flipped } };
  });
}

function evenly<T>(items: T[], limit: number): T[] {
  if (items.length <= limit) return items;
  return Array.from({ length: limit }, (_, i) => items[Math.floor((i * items.length) / limit)]);
}

function imagesUnder(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[])
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort()
    .map((f) => join(root, f));
}

interface Timing {
  /** Fastest run, ms/img: the least disturbed by other jobs on a shared machine. */
  best: number;
  median: number;
}

/** ms/img of each bundle; the bundles take turns run by run, so load from other jobs spreads evenly over the formats. */
async function msPerImage(bundles: Bundle[], x: Float32Array, batch: number, threads: number, runs: number): Promise<Timing[]> {
  const spec = bundles[0].preprocess;
  const per = spec.width * spec.height * spec.channels;
  // The input tensor is made once, in the model's layout: the timing is onnxruntime's run, not the caller's preprocessing.
  const nhwc = x.subarray(0, batch * per);
  const data = spec.layout === 'NCHW' ? nhwcToNchw(nhwc, batch, spec.height, spec.width, spec.channels) : Float32Array.from(nhwc);
  const dims = spec.layout === 'NCHW' ? [batch, spec.channels, spec.height, spec.width] : [batch, spec.height, spec.width, spec.channels];
  const feeds = { [spec.inputName]: new ort.Tensor('float32', data, dims) };
  const sessions = await Promise.all(bundles.map((b) => createOnnxSession(b.onnxPath, { threads })));
  try {
    for (const session of sessions) await session.run(feeds);
    const times = sessions.map((): number[] => []);
    let seed = 1;
    const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let r = 0; r < runs; r++) {
      // A new seeded order every run: with a fixed rotation each format always ran right after the same other one, and two
      // identical int8 files measured 0.65x and 0.72x of float depending on which one that was.
      const order = sessions.map((_, k) => k);
      for (let j = order.length - 1; j > 0; j--) {
        const swap = Math.floor(random() * (j + 1));
        [order[j], order[swap]] = [order[swap], order[j]];
      }
      for (const k of order) {
        const session = sessions[k];
        const t = process.hrtime.bigint();
        await session.run(feeds);
        times[k].push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }
    return times.map((list) => {
      list.sort((a, b) => a - b);
      return { best: list[0] / batch, median: list[Math.floor(list.length / 2)] / batch };
    });
  } finally {
    for (const session of sessions) await session.release();
  }
}

async function maeOf(bundle: Bundle, x: Float32Array, ages: number[]): Promise<number> {
  const spec = bundle.preprocess;
  const per = spec.width * spec.height * spec.channels;
  const age = expectedAgeOf(bundle.labels);
  const session = await createOnnxSession(bundle.onnxPath);
  let error = 0;
  try {
    for (let start = 0; start < ages.length; start += 32) {
      const n = Math.min(32, ages.length - start);
      const { data } = await runOnnx(session, x.subarray(start * per, (start + n) * per), [n, spec.height, spec.width, spec.channels], spec);
      const width = data.length / n;
      for (let i = 0; i < n; i++) error += Math.abs(age(data.subarray(i * width, (i + 1) * width)) - ages[start + i]);
    }
  } finally {
    await session.release();
  }
  return error / ages.length;
}

/**
 * onnxruntime's profiler over `runs` batch-1 runs on one thread: median kernel time per node, summed by op type (convolutions
 * split into depthwise and the others, by the layer names the converter writes), in microseconds per run.
 */
async function kernelTimes(bundle: Bundle, x: Float32Array, runs: number, dir: string): Promise<Map<string, number>> {
  const spec = bundle.preprocess;
  const prefix = join(dir, `profile-${basename(bundle.dir)}-`);
  const session = await ort.InferenceSession.create(bundle.onnxPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const shape: [number, number, number, number] = [1, spec.height, spec.width, spec.channels];
  for (let r = 0; r < runs; r++) await runOnnx(session, x.subarray(0, spec.width * spec.height * spec.channels), shape, spec);
  session.endProfiling();
  await session.release();
  const file = readdirSync(dir)
    .map((f) => join(dir, f))
    .filter((f) => f.startsWith(prefix))
    .sort()
    .pop();
  if (!file) throw new Error('onnxruntime wrote no profile');
  const events = JSON.parse(readFileSync(file, 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>;
  const perNode = new Map<string, { op: string; times: number[] }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const entry = perNode.get(e.name) ?? { op: e.args?.op_name ?? '?', times: [] };
    entry.times.push(e.dur);
    perNode.set(e.name, entry);
  }
  const byOp = new Map<string, number>();
  for (const [name, { op, times }] of perNode) {
    times.sort((a, b) => a - b);
    const label = /conv/i.test(op) && name.includes('/depthwise') ? `${op} (depthwise)` : op;
    byOp.set(label, (byOp.get(label) ?? 0) + times[Math.floor(times.length / 2)]);
  }
  return byOp;
}

/** The C++ example's ms/img for each bundle (best of `repeats`, bundles in turn), or why it does not run. */
function cppMsPerImage(binary: string, bundles: Bundle[], files: string[], repeats: number): Array<number | string> {
  const time = (bundle: Bundle, list: string[]): number => {
    const t = process.hrtime.bigint();
    // One OpenCV thread, like onnxruntime's 1-thread column (OpenCV's own pool would compete with the other jobs).
    const env = { ...process.env, OPENCV_FOR_THREADS_NUM: '1' };
    const run = spawnSync(binary, [bundle.dir, ...list], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env });
    if (run.status !== 0) throw new Error(run.stderr.split('\n').find((l) => l.startsWith('error')) ?? `exit ${run.status}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const all = bundles.map(() => Number.POSITIVE_INFINITY);
  const one = bundles.map(() => Number.POSITIVE_INFINITY);
  const failed: Array<string | undefined> = bundles.map(() => undefined);
  for (let r = 0; r < repeats; r++) {
    for (const [k, bundle] of bundles.entries()) {
      if (failed[k]) continue;
      try {
        all[k] = Math.min(all[k], time(bundle, files));
        one[k] = Math.min(one[k], time(bundle, files.slice(0, 1)));
      } catch (error) {
        failed[k] = `fails: ${(error instanceof Error ? error.message : String(error)).replace(/.*error: /, '').slice(0, 80)}`;
      }
    }
  }
  return bundles.map((_, k) => failed[k] ?? (all[k] - one[k]) / (files.length - 1));
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      data: { type: 'string' },
      'calibration-data': { type: 'string' },
      images: { type: 'string', default: '1000' },
      'calibration-images': { type: 'string', default: '256' },
      runs: { type: 'string', default: '20' },
      'cpp-images': { type: 'string', default: '64' },
      profile: { type: 'boolean' },
      sweep: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.model || !values.data || !values['calibration-data']) {
    process.stderr.write('usage: formats.ts --model DIR --data TEST_DIR --calibration-data TRAIN_DIR [--images N] [--runs R] [--json]\n');
    return 2;
  }
  const runs = Number(values.runs);
  await tf.setBackend('cpu');
  const { model, metadata } = await loadModel(values.model);
  const description = describeAgekitModel(metadata);
  const work = mkdtempSync(join(tmpdir(), 'agekit-bench-formats-'));
  try {
    const calibration = evenly(imagesUnder(values['calibration-data']), Number(values['calibration-images']));
    const list: Bundle[] = [];
    const variants = values.sweep ? [...VARIANTS, ...sweepVariants()] : VARIANTS;
    for (const [k, v] of variants.entries()) {
      const t = Date.now();
      const calibrate = v.method ? { images: calibration, method: v.method } : undefined;
      list.push((await exportBundle({ model, description, out: join(work, `v${k}`), format: v.format, calibration: calibrate, int8Placement: v.placement })).bundle);
      process.stderr.write(`exported ${v.label} in ${((Date.now() - t) / 1000).toFixed(1)} s\n`);
    }
    model.dispose();

    const { records } = await readDataset(values.data);
    const labelled = evenly(
      records.filter((r) => r.age !== undefined).sort((a, b) => a.id.localeCompare(b.id)),
      Number(values.images),
    );
    const spec = list[0].preprocess;
    const per = spec.width * spec.height * spec.channels;
    const x = new Float32Array(Math.max(labelled.length, 32) * per);
    for (const [i, r] of labelled.entries()) x.set(normalizePixels(await readImagePixels(r.file, spec), spec), i * per);
    for (let i = labelled.length; i < 32; i++) x.copyWithin(i * per, 0, per); // batch 32 needs 32 inputs
    const ages = labelled.map((r) => r.age as number);

    const found = findCppToolchain();
    let binary: string | undefined;
    const presized: string[] = [];
    if (found.ok) {
      mkdirSync(join(work, 'cpp'));
      binary = join(work, 'cpp', 'agekit_predict');
      buildCppExample(join(list[0].dir, 'cpp'), binary, found.toolchain);
      for (const [i, r] of evenly(labelled, Number(values['cpp-images'])).entries()) {
        const target = join(work, 'cpp', `img_${i}.png`);
        await writePresizedImage(r.file, spec, target);
        presized.push(target);
      }
    }

    const timing: Record<string, Timing[]> = {};
    for (const threads of [1, 2]) {
      for (const batch of [1, 32]) {
        timing[`b${batch}t${threads}`] = await msPerImage(list, x, batch, threads, batch === 1 ? runs : Math.max(3, Math.ceil(runs / 4)));
        process.stderr.write(`timed batch ${batch}, ${threads} threads\n`);
      }
    }
    const cpp = binary ? cppMsPerImage(binary, list, presized, 5) : list.map(() => `skipped: ${found.ok ? '' : found.reason}`);
    const rows = [];
    for (const [k, v] of variants.entries()) {
      const bundle = list[k];
      rows.push({
        format: v.label,
        bytes: statSync(bundle.onnxPath).size,
        b1t1: timing['b1t1'][k].best,
        b1t2: timing['b1t2'][k].best,
        b32t1: timing['b32t1'][k].best,
        b32t2: timing['b32t2'][k].best,
        medians: { b1t1: timing['b1t1'][k].median, b1t2: timing['b1t2'][k].median, b32t1: timing['b32t1'][k].median, b32t2: timing['b32t2'][k].median },
        cpp: cpp[k],
        mae: await maeOf(bundle, x, ages),
      });
    }
    let profile: Array<{ op: string; float32: number; int8: number; allInt8: number }> | undefined;
    if (values.profile) {
      // float32, int8 with the default placement, int8 with every node int8 (variants 0, 2 and 4)
      const [f, q, all] = [await kernelTimes(list[0], x, 200, work), await kernelTimes(list[2], x, 200, work), await kernelTimes(list[4], x, 200, work)];
      profile = [...new Set([...f.keys(), ...q.keys(), ...all.keys()])].map((op) => ({ op, float32: f.get(op) ?? 0, int8: q.get(op) ?? 0, allInt8: all.get(op) ?? 0 }));
      profile.sort((a, b) => b.float32 + b.int8 - (a.float32 + a.int8));
    }
    const result = { model: resolve(values.model), architecture: metadata.architecture, task: metadata.task.kind, input: `${spec.width}x${spec.height}x${spec.channels}`, testImages: ages.length, calibrationImages: calibration.length, rows, profile };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    }
    const base = rows[0];
    const lines = [
      `${metadata.architecture} (${metadata.task.kind}, ${result.input}); MAE on ${ages.length} images of ${values.data}; int8 calibrated on ${calibration.length} images of ${values['calibration-data']}`,
      'onnxruntime ms/img: fastest of the runs (medians in --json); C++: OpenCV dnn with 1 thread, decoding and preprocessing included',
      '| format | model.onnx | size vs float | ms/img b1 t1 | b1 t2 | b32 t1 | b32 t2 | b1 t1 vs float | C++ (OpenCV) ms/img | MAE | MAE change |',
      '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ];
    for (const r of rows) {
      const cpp = typeof r.cpp === 'number' ? r.cpp.toFixed(2) : r.cpp;
      lines.push(
        `| ${r.format} | ${(r.bytes / 1024).toFixed(0)} KiB | ${((100 * r.bytes) / base.bytes).toFixed(1)}% | ${r.b1t1.toFixed(3)} | ${r.b1t2.toFixed(3)} | ${r.b32t1.toFixed(3)} | ` +
          `${r.b32t2.toFixed(3)} | ${(r.b1t1 / base.b1t1).toFixed(2)}x | ${cpp} | ${r.mae.toFixed(3)} | ${(r.mae - base.mae).toFixed(3)} |`,
      );
    }
    if (profile) {
      const total = (k: 'float32' | 'int8' | 'allInt8'): number => (profile ?? []).reduce((sum, p) => sum + p[k], 0);
      lines.push(
        '',
        'onnxruntime kernel time per op type, batch 1, 1 thread (median per node over 200 runs, us/run)',
        '| op | float32 | int8 (default placement) | int8 (every node int8) |',
        '|---|--:|--:|--:|',
      );
      for (const p of profile) lines.push(`| ${p.op} | ${p.float32 || ''} | ${p.int8 || ''} | ${p.allInt8 || ''} |`);
      lines.push(`| total | ${total('float32')} | ${total('int8')} | ${total('allInt8')} |`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
