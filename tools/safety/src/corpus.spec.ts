/**
 * Issue #17: the hostile-input corpus through every stage of the BUILT apps (explore, process, visualize, resample,
 * train, export, predict), in the three dataset layouts. For each stage: no raw byte changed, nothing written outside
 * its declared outputs, no temporary leftovers, a clear error naming each bad file, the good images processed, the
 * exit code.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeCorpus, TRAIN_CONFIG, type Corpus, type CorpusEntry, type CorpusLayout } from './corpus.testing';
import {
  assertAppsBuilt,
  describeRun,
  diffTrees,
  extensionFormat,
  firstOf,
  jsonOutput,
  magicFormat,
  readCsvRows,
  runApp,
  sha256,
  snapshotTree,
  subtree,
  temporaryLeftovers,
  writesOutside,
  type AppName,
  type AppRun,
} from './sandbox.testing';

const STAGES = ['explore', 'process', 'visualize', 'resample', 'train', 'export', 'predict'] as const;
type Stage = (typeof STAGES)[number];
/** The stages that need a model, and the one layout that runs them (the others stop after resample). */
const MODEL_STAGES: readonly Stage[] = ['train', 'export', 'predict'];
const MODEL_LAYOUT: CorpusLayout = 'folder-per-label';

/** What each stage may write, relative to the sandbox (the chart is part of resample's documented output). */
const OUTPUTS: Record<Stage, string[]> = {
  explore: ['out/csv/metadata.csv'],
  process: ['out/processed_dataset', 'out/csv/processing.csv'],
  visualize: ['out/visualizations'],
  resample: ['out/resampled_dataset', 'out/csv/resampling.csv', 'out/visualizations/resample'],
  train: ['out/model'],
  export: ['out/bundle'],
  predict: [],
};

function stageCommand(stage: Stage, trainConfig: string): { app: AppName; args: string[] } {
  switch (stage) {
    case 'explore':
      return { app: 'cli', args: ['explore', '--data', 'data', '--out', 'out', '--json'] };
    case 'process':
      return { app: 'cli', args: ['process', '--data', 'data', '--out', 'out', '--json'] };
    case 'visualize':
      return { app: 'cli', args: ['visualize', '--data', 'data', '--out', 'out', '--sheet-size', '4'] };
    case 'resample':
      // deliberately without --metadata: resample must group duplicates and leave out failed images by itself
      return { app: 'cli', args: ['resample', '--out', 'out', '--target', 'not-majority', '--json'] };
    case 'train':
      return { app: 'trainer', args: ['train', '--config', trainConfig, '--data', 'out/resampled_dataset', '--out', 'out/model'] };
    case 'export':
      return { app: 'exporter', args: ['export', '--model', 'out/model', '--out', 'out/bundle', '--data', 'out/resampled_dataset', '--images', '16', '--min-images', '4', '--json'] };
    case 'predict':
      return { app: 'cli', args: ['predict', 'data', '--bundle', 'out/bundle', '--no-detect', '--json'] };
  }
}

interface StageResult {
  run: AppRun;
  outsideWrites: string[];
  leftovers: string[];
  /** Changes under data/ and outside/ (must be none). */
  rawChanges: string[];
}

interface Report {
  /** Text that names the entry: a metadata id, a problem path, a failure id. */
  name: string;
  /** The reason or error text; empty for a measured image. */
  error: string;
}

/** Does a report name this entry (its id, the path as the CSV wrote it, or its CSV line)? */
function names(report: Report, entry: CorpusEntry): boolean {
  const text = `${report.name} ${report.error}`;
  if (text.includes(entry.reportedAs ?? entry.id) || entry.aliases?.some((a) => text.includes(a))) return true;
  return entry.csvLine !== undefined && new RegExp(`labels\\.csv:${entry.csvLine}\\b`).test(text);
}

const rawPrefixes = ['data', 'outside'];

describe.each<CorpusLayout>(['labels-csv', 'folder-per-label', 'utkface'])('hostile corpus, %s layout, through every stage', (layout) => {
  let work: string;
  let corpus: Corpus;
  const results = new Map<Stage, StageResult>();
  let metadata: Record<string, string>[] = [];
  let processing: Record<string, string>[] = [];
  let resampling: Record<string, string>[] = [];
  let reports: Report[] = [];

  beforeAll(async () => {
    assertAppsBuilt();
    work = await fs.mkdtemp(path.join(os.tmpdir(), `agekit-safety-${layout}-`));
    const sandbox = path.join(work, 'sandbox');
    const trainConfig = path.join(work, 'train.json');
    await fs.writeFile(trainConfig, JSON.stringify(TRAIN_CONFIG));
    corpus = await makeCorpus(sandbox, layout);
    // train, export and predict read the resampled split folders, whatever the input layout: one layout runs them
    for (const stage of layout === MODEL_LAYOUT ? STAGES : STAGES.filter((s) => !MODEL_STAGES.includes(s))) {
      const before = await snapshotTree(sandbox);
      const { app, args } = stageCommand(stage, trainConfig);
      const run = await runApp(app, args, sandbox, 150_000);
      const after = await snapshotTree(sandbox);
      const diff = diffTrees(before, after);
      const changed = [...diff.added, ...diff.changed, ...diff.removed];
      results.set(stage, {
        run,
        outsideWrites: writesOutside(diff, OUTPUTS[stage], after),
        leftovers: temporaryLeftovers(after),
        rawChanges: changed.filter((p) => rawPrefixes.some((r) => p === r || p.startsWith(`${r}/`))),
      });
    }
    const out = path.join(sandbox, 'out', 'csv');
    const read = async (name: string) => (existsSync(path.join(out, name)) ? readCsvRows(path.join(out, name)) : []);
    metadata = await read('metadata.csv');
    processing = await read('processing.csv');
    resampling = await read('resampling.csv');
    const summary = jsonOutput<{ problems?: Array<{ path: string; reason: string }>; failures?: Array<{ id: string; message: string }> }>(result('explore').run);
    reports = [
      ...metadata.map((r) => ({ name: r['id'] ?? '', error: r['error'] ?? '' })),
      ...(summary?.problems ?? []).map((p) => ({ name: p.path, error: p.reason })),
      ...(summary?.failures ?? []).map((f) => ({ name: f.id, error: f.message })),
    ];
  }, 900_000);

  afterAll(async () => {
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  const result = (stage: Stage): StageResult => {
    const r = results.get(stage);
    if (!r) throw new Error(`${stage} did not run`);
    return r;
  };
  const entriesOf = (...kinds: CorpusEntry['kind'][]) => corpus.entries.filter((e) => kinds.includes(e.kind));
  const okRow = (rows: Record<string, string>[], id: string) => rows.find((r) => r['id'] === id && !r['error'] && r['status'] !== 'error');
  const errorReportFor = (entry: CorpusEntry) => reports.find((r) => r.error.trim() !== '' && names(r, entry));

  describe.each(STAGES.filter((s) => layout === MODEL_LAYOUT || !MODEL_STAGES.includes(s)))('%s', (stage) => {
    it('exits 0 (some images succeeded)', () => {
      expect({ code: result(stage).run.code, run: result(stage).run.code === 0 ? '' : describeRun(result(stage).run) }).toEqual({ code: 0, run: '' });
    });
    it('changes no raw byte (data/, outside/)', () => {
      expect(firstOf(result(stage).rawChanges)).toEqual([]);
    });
    it(`writes nothing outside ${OUTPUTS[stage].join(', ') || 'nothing (it has no output)'}`, () => {
      expect(firstOf(result(stage).outsideWrites)).toEqual([]);
    });
    it('leaves no temporary files behind', () => {
      expect(firstOf(result(stage).leftovers)).toEqual([]);
    });
  });

  it('explore: every entry is measured or reported, none silently dropped', () => {
    const dropped = corpus.entries
      .filter((e) => e.kind !== 'hidden')
      .filter((e) => !reports.some((r) => names(r, e)))
      .map((e) => `${JSON.stringify(e.id)} (${e.what})`);
    expect(dropped).toEqual([]);
  });

  it('explore: each broken file has an error naming it, with a reason', () => {
    const missing = entriesOf('broken')
      .filter((e) => !errorReportFor(e) || okRow(metadata, e.id))
      .map((e) => `${JSON.stringify(e.id)} (${e.what})`);
    expect(missing).toEqual([]);
  });

  it('explore: the reason codes issue #17 names (outside-dataset, symlink-loop) are given', () => {
    const wrong = corpus.entries
      .filter((e) => e.reason)
      .filter((e) => !reports.some((r) => names(r, e) && e.reason?.test(r.error)))
      .map((e) => `${JSON.stringify(e.id)} (${e.what}): expected ${e.reason}, got ${JSON.stringify(reports.filter((r) => names(r, e)).map((r) => r.error))}`);
    expect(wrong).toEqual([]);
  });

  it('explore: paths that leave the dataset root are refused, never measured', () => {
    const measured = entriesOf('escape')
      .filter((e) => metadata.some((r) => names({ name: r['id'] ?? '', error: '' }, e) && !r['error']))
      .map((e) => e.what);
    expect(measured).toEqual([]);
  });

  it('explore: impossible ages (32.5, -5, 999) are reported, not rounded into records', () => {
    const accepted = entriesOf('bad-label')
      .filter((e) => okRow(metadata, e.id) || !errorReportFor(e))
      .map((e) => `${e.id} (${e.what}): ${JSON.stringify(metadata.find((r) => r['id'] === e.id) ?? 'not reported')}`);
    expect(accepted).toEqual([]);
    // the 32.5 image never becomes an age-33 record
    expect(metadata.filter((r) => r['id']?.includes('32') && r['id']?.includes('5') && r['age'] === '33').map((r) => r['id'])).toEqual([]);
  });

  it('the good images are measured and processed, each with a file in processed_dataset/', async () => {
    const problems: string[] = [];
    for (const e of entriesOf('good')) {
      if (!okRow(metadata, e.id)) problems.push(`${e.id}: no metadata.csv row without error`);
      if (!okRow(processing, e.id)) problems.push(`${e.id}: no processing.csv row without error`);
      if (!existsSync(path.join(corpus.sandbox, 'out', 'processed_dataset', ...e.id.split('/')))) problems.push(`${e.id}: not in processed_dataset/`);
    }
    expect(problems).toEqual([]);
  });

  it('process: every record that is not a good image gets an error row, never a processed file', () => {
    const problems: string[] = [];
    for (const e of entriesOf('broken', 'escape', 'bad-label')) {
      if (okRow(processing, e.id)) problems.push(`${e.id} (${e.what}): processed as good`);
      const isRecord = metadata.some((r) => r['id'] === e.id);
      if (isRecord && !processing.some((r) => r['id'] === e.id && r['error'])) problems.push(`${e.id} (${e.what}): no error row in processing.csv`);
    }
    expect(problems).toEqual([]);
  });

  it('process: odd images are either processed or reported', () => {
    const lost = entriesOf('odd')
      .filter((e) => !okRow(processing, e.id) && !processing.some((r) => r['id'] === e.id && r['error']) && !errorReportFor(e))
      .map((e) => `${JSON.stringify(e.id)} (${e.what})`);
    expect(lost).toEqual([]);
  });

  it('process: every file it writes holds the format its extension names (no PNG bytes under .gif)', async () => {
    const processed = subtree(await snapshotTree(corpus.sandbox), 'out/processed_dataset');
    const mismatched: string[] = [];
    for (const [rel, kind] of processed) {
      if (!kind.startsWith('file') || extensionFormat(rel) === undefined) continue;
      const bytes = await fs.readFile(path.join(corpus.sandbox, 'out', 'processed_dataset', rel));
      if (magicFormat(bytes) !== extensionFormat(rel)) mismatched.push(`${rel}: ${magicFormat(bytes) ?? 'unknown'} bytes`);
    }
    expect(processed.size).toBeGreaterThan(0);
    expect(mismatched).toEqual([]);
  });

  it('resample (no --metadata): byte-identical and near-duplicate images never land in two splits', () => {
    expect(resampling.length).toBeGreaterThan(0);
    const splitsOf = (ids: string[]) => new Set(resampling.filter((r) => ids.includes(r['source']) && !r['error']).map((r) => r['split']));
    const pairs = corpus.entries.flatMap((e) => {
      const original = e.duplicateOf ?? e.nearDuplicateOf;
      return original ? [[original, e.id]] : [];
    });
    const split = pairs.filter((ids) => splitsOf(ids).size > 1).map((ids) => `${ids.join(' + ')}: ${[...splitsOf(ids)].join(', ')}`);
    expect(split).toEqual([]);
  });

  it('resample: no image content appears in two splits', async () => {
    const splitOfHash = new Map<string, Set<string>>();
    for (const split of ['train', 'val', 'test']) {
      const dir = path.join(corpus.sandbox, 'out', 'resampled_dataset', split);
      if (!existsSync(dir)) continue;
      for (const [rel, kind] of await snapshotTree(dir)) {
        if (!kind.startsWith('file') || extensionFormat(rel) === undefined) continue;
        const hash = sha256(await fs.readFile(path.join(dir, rel)));
        splitOfHash.set(hash, (splitOfHash.get(hash) ?? new Set()).add(split));
      }
    }
    expect(splitOfHash.size).toBeGreaterThan(0);
    expect([...splitOfHash.values()].filter((s) => s.size > 1).map((s) => [...s].join('+'))).toEqual([]);
  });

  it('resample: images process could not handle, and the 1x1, are left out', () => {
    const processedOk = new Set(processing.filter((r) => !r['error'] && r['status'] !== 'error').map((r) => r['id']));
    const sources = new Set(resampling.filter((r) => !r['error']).map((r) => r['source']));
    expect(sources.size).toBeGreaterThan(0);
    expect([...sources].filter((s) => !processedOk.has(s))).toEqual([]);
    const tiny = corpus.entries.find((e) => e.what === '1x1 image');
    expect(tiny && sources.has(tiny.id)).toBe(false);
  });

  if (layout === MODEL_LAYOUT) {
    it('predict: reports each image under data/ once (no descent into a directory loop)', async () => {
      const summary = jsonOutput<{ results?: Array<{ file: string }> }>(result('predict').run);
      expect(summary?.results).toBeDefined();
      const files = (summary?.results ?? []).map((r) => r.file);
      expect(firstOf(files.filter((f, i) => files.indexOf(f) !== i))).toEqual([]);
      expect(firstOf(files.filter((f) => /(^|\/)dirloop\//.test(f)))).toEqual([]);
      const goodIds = entriesOf('good').map((e) => path.join('data', ...e.id.split('/')));
      expect(goodIds.filter((id) => !files.includes(id))).toEqual([]);
    });
  }
});
