#!/usr/bin/env node
/**
 * Benchmark: the explore stage (@agekit/quality's exploreDataset, called once per round in a fresh node process) against the OpenCV
 * reference (../shared/reference/explore_opencv.py) on the same images in one run: both rates and their ratio,
 * then the largest disagreement of each metric between the two CSVs and the share of images within tolerance
 * (Laplacian variance 0.1% relative, mean/std 0.01).
 *
 * With the native engine (libs/quality/native, built by `node tools/scripts/build-native.mjs`) it also prints a
 * profile: the share of the explore process's CPU time spent reading, decoding and measuring in C, and the rest
 * (JS: dataset scan, checks, duplicates, CSV, glue).
 *
 * --compare-js also runs it with engine js (worker processes) in the same run: its rate, the ratio of the two
 * engines and whether their CSVs are byte-identical.
 *
 * CPU time of a call: this process's (all threads) plus that of the worker processes it waited for (Linux
 * /proc/self/stat cutime + cstime), NaN elsewhere.
 *
 * The reference runs twice a round: as a user runs it, and with glibc's heap kept grown (GLIBC_TUNABLES
 * glibc.malloc.top_pad=64 MiB). Run as is, Python + OpenCV + numpy grow the heap for each image's arrays and glibc trims
 * it back (3 brk calls and ~125 minor page faults an image on UTKFace): where page faults are dear (~6-7 us each on the
 * 2-core VM of 2026-12-03, measured with strace and /usr/bin/time) that alone made the reference 5x slower (553 vs 2,828
 * img/s; 15.8 s of kernel time over UTKFace). Both ratios are printed: the first is what a user of the script sees on
 * this machine; the second does not depend on the machine's page-fault cost.
 *
 * --rounds N (default 3) runs the two sides N times, alternating, and prints each round's stage-vs-loop ratio and their
 * median (the speed of a shared machine drifts within minutes); the details that follow are the last round's. Each
 * round calls exploreDataset once in a fresh process (this script with --stage-json FILE), so every call is cold.
 *
 * Usage: npx tsx tools/bench/explore/main.ts --data ../shared/data/utkface [--limit N] [--workers N] [--engine auto|native|js] [--rounds N] [--compare-js] [--keep DIR]
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { metadataCsvPath, readCsv } from '@agekit/dataset';
import { exploreDataset, type ExploreDatasetOptions, type ExploreDatasetResult, type ExploreEngine } from '@agekit/quality';
import { median } from '../statistics';
import { benchInputs, KEPT_HEAP_TUNABLE, keptHeapEnv, PYTHON, REFERENCE, run, runReference, warmPageCache } from './reference';

/** CPU seconds (user + system) of this process and of its waited-for children; NaN without /proc. */
async function cpuSecondsWithChildren(): Promise<number> {
  const own = process.cpuUsage();
  let children = NaN;
  try {
    const stat = await fs.readFile('/proc/self/stat', 'utf8');
    // fields after the command name (which may hold spaces, inside parentheses): cutime and cstime are fields 16 and 17
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticksPerSecond = 100; // USER_HZ, 100 on Linux whatever the kernel's tick rate
    children = (Number(fields[13]) + Number(fields[14])) / ticksPerSecond;
  } catch {
    // not Linux: the children's time is unknown
  }
  return (own.user + own.system) / 1e6 + children;
}

/** Run the explore stage in this process; its result, wall-clock seconds and CPU seconds (worker processes included). */
async function explore(options: ExploreDatasetOptions): Promise<{ summary: ExploreDatasetResult; seconds: number; cpuSeconds: number }> {
  const cpuBefore = await cpuSecondsWithChildren();
  const started = performance.now();
  const summary = await exploreDataset(options);
  const seconds = (performance.now() - started) / 1000;
  return { summary, seconds, cpuSeconds: (await cpuSecondsWithChildren()) - cpuBefore };
}

type StageRun = Awaited<ReturnType<typeof explore>>;

/**
 * One call of the stage in a fresh process (this script with --stage-json): every round is then a cold call, as a CLI
 * run is; a second call in one process would reuse the JIT's compiled code and look faster than a user's first call.
 */
async function exploreInFreshProcess(options: ExploreDatasetOptions, work: string): Promise<StageRun> {
  const file = path.join(work, 'stage.json');
  const args = [...process.execArgv, __filename, '--stage-json', file, '--data', options.data, '--engine', options.engine ?? 'auto'];
  if (options.limit !== undefined) args.push('--limit', String(options.limit));
  if (options.workers !== undefined) args.push('--workers', String(options.workers));
  const child = await run(process.execPath, args);
  if (child.code !== 0) throw new Error(`the stage failed (${child.code}): ${child.stderr}`);
  return JSON.parse(await fs.readFile(file, 'utf8')) as StageRun;
}

interface Tolerance {
  column: string;
  kind: 'relative' | 'absolute';
  limit: number;
}

const TOLERANCES: Tolerance[] = [
  { column: 'laplacian_variance', kind: 'relative', limit: 1e-3 },
  { column: 'mean_intensity', kind: 'absolute', limit: 0.01 },
  { column: 'std_intensity', kind: 'absolute', limit: 0.01 },
  { column: 'width', kind: 'absolute', limit: 0 },
  { column: 'height', kind: 'absolute', limit: 0 },
];

const FLAG_PAIRS: Array<[string, string]> = [
  ['blurry', 'flag_blurry'],
  ['dark', 'flag_dark'],
  ['bright', 'flag_bright'],
  ['low_texture', 'flag_low_texture'],
  ['low_resolution', 'flag_low_resolution'],
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      limit: { type: 'string' },
      workers: { type: 'string' },
      engine: { type: 'string' },
      'compare-js': { type: 'boolean', default: false },
      keep: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      'stage-json': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || !values.data) {
    console.log('usage: npx tsx tools/bench/explore/main.ts --data DIR (with labels.csv) [--limit N] [--workers N] [--engine auto|native|js] [--rounds N (default 3)] [--compare-js] [--keep DIR]');
    return values.help ? 0 : 2;
  }
  const engineName = values.engine ?? 'auto';
  if (values['stage-json']) {
    // a child of exploreInFreshProcess: one call, its result to the file (the outputs beside it)
    const file = path.resolve(values['stage-json']);
    const options: ExploreDatasetOptions = {
      data: path.resolve(values.data),
      out: path.dirname(file),
      engine: engineName as ExploreEngine,
      limit: values.limit ? Number(values.limit) : undefined,
      workers: values.workers !== undefined ? Number(values.workers) : undefined,
    };
    await fs.writeFile(file, JSON.stringify(await explore(options)));
    return 0;
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.log(`--rounds must be a whole number >= 1 (got '${values.rounds}')`);
    return 2;
  }
  if (!['auto', 'native', 'js'].includes(engineName)) {
    console.log(`--engine must be auto, native or js (got '${engineName}')`);
    return 2;
  }
  const inputs = benchInputs(values.data);
  if (!inputs) return 0;
  const { data, labels } = inputs;
  const work = values.keep ? path.resolve(values.keep) : await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-bench-explore-'));
  await fs.mkdir(work, { recursive: true });
  const limit = values.limit ? Number(values.limit) : undefined;
  const n = await warmPageCache(labels, limit);

  const refCsv = path.join(work, 'reference.csv');
  const stageOptions: ExploreDatasetOptions = {
    data,
    out: work,
    limit,
    workers: values.workers !== undefined ? Number(values.workers) : undefined,
  };
  // rounds alternate the sides: the speed of a shared machine drifts within minutes, and a ratio of runs made side by
  // side, repeated, says more than one pair
  const ratios: number[] = [];
  const keptRatios: number[] = [];
  let ref: Awaited<ReturnType<typeof runReference>> | undefined;
  let kept: Awaited<ReturnType<typeof runReference>> | undefined;
  let ours: StageRun | undefined;
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}/${rounds}: reference ${PYTHON} ${REFERENCE} (${n} images), as is and with ${KEPT_HEAP_TUNABLE} ...`);
    ref = await runReference(labels, refCsv, limit, process.env);
    kept = await runReference(labels, refCsv, limit, keptHeapEnv());
    console.log(`round ${round}/${rounds}: exploreDataset (engine ${engineName}) ...`);
    ours = await exploreInFreshProcess({ ...stageOptions, engine: engineName as ExploreEngine }, work);
    const rate = ours.summary.imagesPerSecond;
    ratios.push(rate / ref.rate);
    keptRatios.push(rate / kept.rate);
    console.log(
      `round ${round}/${rounds}: agekit ${rate.toFixed(0)} img/s in the stage; reference ${ref.rate.toFixed(0)} img/s in its loop as is = ` +
        `${ratios[ratios.length - 1].toFixed(2)}x, ${kept.rate.toFixed(0)} img/s with its heap kept = ${keptRatios[keptRatios.length - 1].toFixed(2)}x`,
    );
  }
  if (!ref || !kept || !ours) return 1;
  const summary = ours.summary;
  console.log(`\n== throughput (same machine, same run${rounds > 1 ? `; details of round ${rounds}` : ''}) ==`);
  for (const [name, r] of [
    ['as is', ref],
    [`heap kept (${KEPT_HEAP_TUNABLE})`, kept],
  ] as const) {
    console.log(
      `reference (OpenCV, 1 process, ${name}): ${r.rate.toFixed(0)} img/s in its loop; ${(n / r.run.seconds).toFixed(0)} img/s wall-clock incl. Python start-up (${r.run.seconds.toFixed(1)}s); ` +
        `kernel ${r.run.systemSeconds.toFixed(2)}s, ${(r.run.minorFaults / n).toFixed(0)} minor page faults an image`,
    );
  }
  const engine = summary.engine ?? 'js';
  const how =
    engine === 'native'
      ? `native engine, ${summary.workers} threads: ${summary.engineCounts?.native} files native, ${summary.engineCounts?.js} by the js path`
      : `js engine, ${summary.workers || 'in-process'} workers`;
  console.log(`engine: ${engine}${summary.engineNote ? ` (${summary.engineNote})` : ''}`);
  console.log(
    `agekit explore (${how}; decoded by native ${summary.decoders['native'] ?? 0}, canvas ${summary.decoders['canvas']}, sharp ${summary.decoders['sharp']}): ` +
      `${summary.imagesPerSecond.toFixed(0)} img/s in the stage (dataset scan + measure + CSV; ${ours.seconds.toFixed(1)}s for the call)`,
  );
  console.log(
    `ratio agekit / reference as is: ${(summary.imagesPerSecond / ref.rate).toFixed(2)}x (stage vs loop), ${(ref.run.seconds / ours.seconds).toFixed(2)}x (the call vs the reference's whole process); ` +
      `with its heap kept: ${(summary.imagesPerSecond / kept.rate).toFixed(2)}x`,
  );
  if (rounds > 1) {
    const list = (values: number[]): string => values.map((r) => `${r.toFixed(2)}x`).join(', ');
    console.log(`stage vs loop over ${rounds} rounds: median ${median(ratios).toFixed(2)}x (${list(ratios)}) against the reference as is`);
    console.log(`stage vs loop over ${rounds} rounds: median ${median(keptRatios).toFixed(2)}x (${list(keptRatios)}) against the reference with its heap kept`);
  }
  if (Number.isFinite(ref.run.cpuSeconds) && Number.isFinite(ours.cpuSeconds)) {
    // CPU time is what a loaded machine does not distort: total user+sys of each whole run, start-up included
    const perImage = (cpu: number): string => `${((1000 * cpu) / n).toFixed(2)} ms/image`;
    console.log(
      `CPU (user+sys): reference ${ref.run.cpuSeconds.toFixed(2)}s = ${perImage(ref.run.cpuSeconds)} as is, ${kept.run.cpuSeconds.toFixed(2)}s = ${perImage(kept.run.cpuSeconds)} with its heap kept (whole runs incl. start-up); agekit ${ours.cpuSeconds.toFixed(2)}s = ${perImage(ours.cpuSeconds)} (the call, worker processes included)`,
    );
    const workers = summary.workers || 1;
    console.log(
      `CPU-bound throughput on ${workers} core(s): agekit ${((workers * n) / ours.cpuSeconds).toFixed(0)} img/s vs reference ${(n / ref.run.cpuSeconds).toFixed(0)} img/s on 1 core = ` +
        `${((workers * ref.run.cpuSeconds) / ours.cpuSeconds).toFixed(2)}x (heap kept: ${(n / kept.run.cpuSeconds).toFixed(0)} img/s = ${((workers * kept.run.cpuSeconds) / ours.cpuSeconds).toFixed(2)}x)`,
    );
  }

  const p = summary.profile;
  if (p && engine === 'native' && p.processCpuSeconds > 0) {
    // thread CPU time of the engine's stages against the explore process's CPU time for the whole stage
    const nativeTotal = p.readSeconds + p.decodeSeconds + p.metricsSeconds;
    const js = Math.max(0, p.processCpuSeconds - nativeTotal);
    const share = (x: number): string => `${((100 * x) / p.processCpuSeconds).toFixed(1)}% (${((1000 * x) / n).toFixed(3)} ms/img)`;
    console.log(
      `profile (CPU of the explore stage, ${p.processCpuSeconds.toFixed(2)}s = ${((1000 * p.processCpuSeconds) / n).toFixed(3)} ms/img): ` +
        `read ${share(p.readSeconds)}, decode ${share(p.decodeSeconds)}, metrics ${share(p.metricsSeconds)}, JS overhead ${share(js)}`,
    );
  }
  console.log(`load: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min) on ${os.cpus().length} cores`);

  if (values['compare-js']) {
    const jsOut = path.join(work, 'engine-js');
    console.log('exploreDataset (engine js) ...');
    const js = await explore({ ...stageOptions, out: jsOut, engine: 'js' });
    const same = (await fs.readFile(metadataCsvPath(jsOut), 'utf8')) === (await fs.readFile(metadataCsvPath(work), 'utf8'));
    console.log(
      `js engine (${js.summary.workers || 'in-process'} worker processes): ${js.summary.imagesPerSecond.toFixed(0)} img/s in the stage; ` +
        `${engine} / js = ${(summary.imagesPerSecond / js.summary.imagesPerSecond).toFixed(2)}x (stage)` +
        (Number.isFinite(js.cpuSeconds) ? `; CPU ${((1000 * js.cpuSeconds) / n).toFixed(2)} ms/image` : ''),
    );
    console.log(`CSV of the two engines: ${same ? 'byte-identical' : 'DIFFERENT'}`);
  }

  const refRows = await readCsv(refCsv);
  const ourRows = await readCsv(metadataCsvPath(work));
  const byId = new Map(ourRows.map((r) => [r['id'], r]));
  let matched = 0;
  const missing: string[] = [];
  const stats = TOLERANCES.map((t) => ({ ...t, worst: 0, worstId: '', within: 0, offenders: [] as Array<{ id: string; diff: number; ref: number; ours: number }> }));
  const flagAgree = FLAG_PAIRS.map(() => 0);
  for (const r of refRows) {
    const o = byId.get(r['file']);
    if (!o || o['error']) {
      missing.push(r['file']);
      continue;
    }
    matched++;
    for (const s of stats) {
      const a = Number(r[s.column]);
      const b = Number(o[s.column]);
      const diff = s.kind === 'relative' ? Math.abs(a - b) / Math.max(Math.abs(a), 1e-9) : Math.abs(a - b);
      if (diff > s.worst) {
        s.worst = diff;
        s.worstId = r['file'];
      }
      if (diff <= s.limit) s.within++;
      else s.offenders.push({ id: r['file'], diff, ref: a, ours: b });
    }
    FLAG_PAIRS.forEach(([refCol, ourCol], k) => {
      if (Number(r[refCol]) === Number(o[ourCol])) flagAgree[k]++;
    });
  }
  console.log(`\n== parity (${matched} images in both CSVs; ${missing.length} read by only one side) ==`);
  for (const s of stats) {
    console.log(
      `${s.column.padEnd(20)} largest ${s.kind} difference ${s.worst.toExponential(3)}${s.worstId ? ` (${s.worstId})` : ''}; ` +
        `within ${s.kind === 'relative' ? `${s.limit * 100}%` : s.limit}: ${s.within}/${matched} = ${((100 * s.within) / Math.max(matched, 1)).toFixed(3)}%`,
    );
    for (const off of s.offenders.sort((a, b) => b.diff - a.diff).slice(0, 5)) console.log(`    ${off.id}: reference ${off.ref}, agekit ${off.ours}`);
  }
  FLAG_PAIRS.forEach(([name], k) => console.log(`flag ${name.padEnd(15)} same decision on ${flagAgree[k]}/${matched}`));
  if (missing.length) console.log(`only one side read: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ' ...' : ''}`);
  console.log(`\nCSVs: ${refCsv} and ${metadataCsvPath(work)}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`bench explore: ${(error as Error).message}`);
    process.exit(1);
  },
);
