/**
 * The side-by-side table of pretrained age estimators ("peers") and agekit models on the same images (formerly
 * `agekit-trainer peers`): MAE, CS(5), rank AUC, MAE by age band and ms/image. Run through main.ts (`table`).
 */
import * as path from 'node:path';
import { clipToWidth, createRng, describeError, EXIT, exitCodeOf, formatDuration, integerFlag, parseFlags, UsageError, SPLIT_NAMES, type Progress, type SplitName } from '@agekit/dataset';
import { evaluateModel, isClassification, loadModel, prepareSplit, resolveModelFolder, resolveSplits, type BandError } from '@agekit/model';
import { initBackend, backendChoiceFlag } from '@agekit/runtime';
import { ENSEMBLE_USAGE, ensembleMembersToRun, parseEnsembles, runEnsembles, type MemberRun } from './ensemble';
import { loadPeer, PEERS, PeerUnavailableError, runPeer, scoreAges, type PeerName } from './peers';

/** Where the table goes: `out` for the table, `err` for progress and warnings, `result` for --json. */
export interface TableIo {
  out(line: string): void;
  err(line: string): void;
  result(value: unknown): void;
}

export const TABLE_USAGE = `table --data DIR [--split val|test|train|heldout] [--peers faceapi,ssrnet,gear,faceres] [--model DIR]... [--human-models DIR]
      ${ENSEMBLE_USAGE}
      [--min-age 20] [--max-age 50] [--limit N (seeded random sample)] [--flip (test-time flip)] [--backend B] [--json]`;

/** A number with `digits` decimals, or 'n/a' when missing or not finite. */
export const fmt = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

/** Progress lines on stderr at most every 10 s (and always at the end). */
export function progressPrinter(io: TableIo, label: string): (p: Progress) => void {
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (p.done < p.total && now - last < 10_000) return;
    last = now;
    io.err(clipToWidth(`${label}: ${p.done}/${p.total} (${p.rate.toFixed(1)}/s, eta ${formatDuration(p.etaSeconds)})`, process.stderr.isTTY ? process.stderr.columns : undefined));
  };
}



interface PeerRow {
  model: string;
  parameters: number;
  count: number;
  mae: number;
  cs5: number;
  auc: number;
  bands: BandError[];
  msPerImage: number;
  failed: number;
}

function printTable(io: TableIo, rows: PeerRow[]): void {
  const bandNames = rows[0]?.bands.map((b) => b.band) ?? [];
  const header = ['model', 'params', 'n', 'MAE', 'CS(5)', 'AUC', ...bandNames.map((b) => `MAE ${b}`), 'ms/img'];
  const table = rows.map((r) => [
    r.model,
    r.parameters.toLocaleString('en-US'),
    String(r.count),
    fmt(r.mae, 2),
    fmt(r.cs5, 3),
    fmt(r.auc, 3),
    ...r.bands.map((b) => (b.count ? fmt(b.mae, 2) : '-')),
    fmt(r.msPerImage, 1),
  ]);
  printMarkdownTable(io, header, table);
}

/** A Markdown table: the first column left-aligned, the others right-aligned, padded to their widths. */
export function printMarkdownTable(io: Pick<TableIo, 'out'>, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  io.out(line(header));
  io.out(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of rows) io.out(line(row));
}

async function table(args: string[], io: TableIo, cwd: string): Promise<number> {
  const values = parseFlags(args, {
    data: { type: 'string' },
    split: { type: 'string', default: 'val' },
    peers: { type: 'string' },
    model: { type: 'string', multiple: true },
    ensemble: { type: 'string', multiple: true },
    'human-models': { type: 'string' },
    'min-age': { type: 'string', default: '20' },
    'max-age': { type: 'string', default: '50' },
    limit: { type: 'string' },
    flip: { type: 'boolean', default: false },
    backend: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (typeof values.data !== 'string') throw new UsageError('table needs --data DIR');
  const flip = values.flip === true;
  const split = values.split as SplitName;
  if (!SPLIT_NAMES.includes(split)) throw new UsageError(`--split must be one of ${SPLIT_NAMES.join(', ')} (got '${split}')`);
  const names = (typeof values.peers === 'string' ? values.peers.split(',').map((s) => s.trim()).filter(Boolean) : [...PEERS]) as PeerName[];
  for (const n of names) if (!PEERS.includes(n)) throw new UsageError(`unknown peer '${n}' (known: ${PEERS.join(', ')})`);
  const minAge = integerFlag(values, 'min-age') as number;
  const maxAge = integerFlag(values, 'max-age') as number;
  const limit = integerFlag(values, 'limit');
  const humanModelsDir = path.resolve(cwd, typeof values['human-models'] === 'string' ? values['human-models'] : 'cache/human-models');
  const ensembles = await parseEnsembles(values.ensemble as string[] | undefined, cwd);
  const modelDirs = await Promise.all(((values.model as string[] | undefined) ?? []).map((dir) => resolveModelFolder(path.resolve(cwd, dir))));
  const toRun = ensembleMembersToRun(ensembles, modelDirs, names);
  const backend = await initBackend({ backend: backendChoiceFlag(values.backend) ?? 'wasm' });
  io.err(`backend: ${backend.name} — ${backend.reason}`);

  const dataDir = path.resolve(cwd, values.data);
  const splits = await resolveSplits(dataDir, 42, { train: 0.7, val: 0.15, test: 0.15 });
  let records = splits[split].filter((r) => r.age !== undefined && r.age >= minAge && r.age <= maxAge).sort((a, b) => a.id.localeCompare(b.id));
  // a seeded random sample (not the first N ids, which sort by age folder) so a limited table still covers every age
  if (limit !== undefined && limit < records.length) records = createRng(42).shuffle([...records]).slice(0, limit).sort((a, b) => a.id.localeCompare(b.id));
  if (records.length === 0) {
    io.err(`error: no images with an age in ${minAge}..${maxAge} in ${dataDir} (${split})`);
    return EXIT.failed;
  }
  io.err(`data: ${dataDir} ${split} (${splits.source === 'folders' ? 'split folder' : 'split with seed 42'}): ${records.length} images aged ${minAge}..${maxAge}`);
  const bandEdges = [minAge, ...[30, 40, 50, 60, 70, 80].filter((e) => e > minAge && e <= maxAge)];
  const rows: PeerRow[] = [];
  /** The row of ages per record (a peer's or an ensemble's), scored on the records that have one. */
  const ageRow = (model: string, parameters: number, ages: ArrayLike<number>, msPerImage: number, failed: number): PeerRow => {
    const ok = records.map((_, i) => i).filter((i) => Number.isFinite(ages[i]));
    const s = scoreAges(
      ok.map((i) => records[i].age as number),
      ok.map((i) => ages[i]),
      { aucRange: { min: minAge, max: maxAge }, bandEdges },
    );
    return { model, parameters, count: s.count, mae: s.mae, cs5: s.cs5, auc: s.auc, bands: s.bands, msPerImage, failed };
  };
  // per model folder or peer: its age for each record (NaN where it has none), for the ensembles
  const members = new Map<string, MemberRun>();

  for (const modelDir of toRun.modelDirs) {
    const { model, metadata } = await loadModel(modelDir);
    const prepared = await prepareSplit(records, metadata.task, { size: metadata.input.size, channels: metadata.input.channels, onProgress: progressPrinter(io, `decode ${path.basename(modelDir)}`) });
    const started = performance.now();
    const e = evaluateModel(model, metadata.task, prepared.data, { normalization: metadata.input.normalization, bandEdges, batchSize: 16, flip });
    const ms = (performance.now() - started) / Math.max(1, prepared.ids.length);
    // regression models have no probabilities: rank AUC of their ages, as for the peers
    const auc = isClassification(metadata.task) ? e.auc : scoreAges(prepared.data.ages, e.predictedAges, { aucRange: { min: minAge, max: maxAge } }).auc;
    rows.push({ model: `${path.basename(modelDir)} (${metadata.architecture}${isClassification(metadata.task) ? '' : ', regression'})`, parameters: metadata.parameters, count: e.count, mae: e.mae, cs5: e.cs5, auc, bands: e.bands, msPerImage: ms, failed: prepared.failed.length });
    const ageById = new Map(prepared.ids.map((id, k) => [id, e.predictedAges[k]]));
    members.set(modelDir, { ages: records.map((r) => ageById.get(r.id) ?? NaN), parameters: metadata.parameters, msPerImage: ms });
    if (prepared.outsideTask.length) io.err(`note: ${modelDir}: ${prepared.outsideTask.length} images outside its task were left out`);
    model.dispose();
  }

  const unavailable: string[] = [];
  for (const name of toRun.peers) {
    let peer;
    try {
      peer = await loadPeer(name, { humanModelsDir });
    } catch (error) {
      if (!(error instanceof PeerUnavailableError)) throw error;
      unavailable.push(`${name}: ${error.reason}`);
      io.err(`warning: ${error.message}`);
      continue;
    }
    const run = await runPeer(peer, records.map((r) => r.file), { flip, onProgress: progressPrinter(io, `peer ${name}`) });
    for (const f of run.failed.slice(0, 5)) io.err(`warning: ${f.file}: ${f.error}`);
    rows.push(ageRow(`${name}: ${peer.description}`, peer.parameters, run.ages, run.msPerImage, run.failed.length));
    members.set(name, { ages: run.ages, parameters: peer.parameters, msPerImage: run.msPerImage });
    peer.dispose();
  }
  const combined = runEnsembles(ensembles, members);
  unavailable.push(...combined.notRun);
  // scored like a peer, on the images every member has an age for
  for (const { ensemble, run } of combined.done) rows.push(ageRow(ensemble.label, run.parameters, run.ages, run.msPerImage, run.ages.filter((age) => !Number.isFinite(age)).length));
  io.out(`${split} split of ${dataDir}: ${records.length} images aged ${minAge}..${maxAge}; backend ${backend.name}${flip ? '; test-time flip (mean of image and mirror)' : ''}`);
  printTable(io, rows);
  io.out('AUC: macro one-vs-rest over the years; classification models score with their probabilities, age regressors with -|predicted age - class age|.');
  io.out('ms/img: preprocessing from decoded pixels + inference, batches of 16; decoding excluded (agekit models: their input is already resized by sharp while decoding).');
  if (unavailable.length) io.out(`not run: ${unavailable.join('; ')}`);
  io.result({ split, count: records.length, flip, rows, unavailable });
  return EXIT.ok;
}

/** Run a bench command: its exit code, usage errors (2) with the usage line, other errors as one line (1). */
export async function runBenchCommand(run: () => Promise<number>, io: TableIo, usage: string): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      io.err(`usage: npx tsx tools/bench/peers/main.ts ${usage}`);
      return EXIT.usage;
    }
    io.err(`error: ${describeError(error)}`);
    return exitCodeOf(error);
  }
}

/** Run the table; returns the exit code (0 ok, 1 failed, 2 usage). */
export function runPeersTable(args: string[], io: TableIo, cwd = process.cwd()): Promise<number> {
  return runBenchCommand(() => table(args, io, cwd), io, TABLE_USAGE);
}
