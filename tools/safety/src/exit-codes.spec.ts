/**
 * Issue #17: honest exit codes, `--out` refusals, the exporter's handling of what is at `--out`, and directory loops
 * under predict and exporter verify, all through the BUILT apps. A small clean dataset (plus one zero-byte file) is
 * taken through explore .. export once; the cases then run against it.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBadOnlyDataset, makeLargeDataset, makePhotos, TRAIN_CONFIG } from './corpus.testing';
import {
  assertAppsBuilt,
  describeRun,
  diffTrees,
  jsonOutput,
  runApp,
  snapshotTree,
  stackLines,
  subtree,
  temporaryLeftovers,
  type AppName,
  type AppRun,
} from './sandbox.testing';

let work: string;
let sandbox: string;
let trainConfig: string;
let photoCount: number;
const setup: AppRun[] = [];

const cli = (args: string[]) => runApp('cli', args, sandbox);
const trainer = (args: string[]) => runApp('trainer', args, sandbox);
const exporter = (args: string[]) => runApp('exporter', args, sandbox);

/** Run an app and return the run together with everything it changed in the sandbox. */
async function runWatched(app: AppName, args: string[]): Promise<{ run: AppRun; changed: string[] }> {
  const before = await snapshotTree(sandbox);
  const run = await runApp(app, args, sandbox);
  const diff = diffTrees(before, await snapshotTree(sandbox));
  return { run, changed: [...diff.added.map((p) => `added ${p}`), ...diff.changed.map((p) => `changed ${p}`), ...diff.removed.map((p) => `removed ${p}`)] };
}

/** A usage refusal: exit 2, exactly one line on stderr, no stack trace. */
function expectOneLineRefusal(run: AppRun): void {
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
  expect({ code: run.code, stderrLines: lines.length, stack: stackLines(run.stderr) }).toEqual({ code: 2, stderrLines: 1, stack: [] });
}

beforeAll(async () => {
  assertAppsBuilt();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-safety-exit-'));
  sandbox = path.join(work, 'sandbox');
  trainConfig = path.join(work, 'train.json');
  await fs.writeFile(trainConfig, JSON.stringify(TRAIN_CONFIG));
  await makeLargeDataset(path.join(sandbox, 'data'), 48);
  await fs.writeFile(path.join(sandbox, 'data', '30', 'zero.jpg'), Buffer.alloc(0));
  photoCount = await makePhotos(path.join(sandbox, 'photos'));
  await makeBadOnlyDataset(path.join(sandbox, 'bad'));
  await fs.writeFile(path.join(sandbox, 'afile.txt'), 'a user file, not a folder\n');
  await fs.mkdir(path.join(sandbox, 'userdir'), { recursive: true });
  await fs.writeFile(path.join(sandbox, 'userdir', 'notes.txt'), 'unrelated user file\n');
  setup.push(await cli(['explore', '--data', 'data', '--out', 'out']));
  setup.push(await cli(['process', '--data', 'data', '--out', 'out']));
  setup.push(await cli(['resample', '--out', 'out', '--target', 'not-majority']));
  setup.push(await trainer(['train', '--config', trainConfig, '--data', 'out/resampled_dataset', '--out', 'out/model']));
  setup.push(await exporter(['export', '--model', 'out/model', '--out', 'out/bundle', '--data', 'out/resampled_dataset', '--images', '16', '--min-images', '4']));
  await fs.cp(sandbox, path.join(work, 'pristine'), { recursive: true, verbatimSymlinks: true });
}, 600_000);

/** Put the sandbox back as the set-up left it, so what one case destroyed does not fail the next. */
async function restoreSandbox(): Promise<void> {
  await fs.rm(sandbox, { recursive: true, force: true });
  await fs.cp(path.join(work, 'pristine'), sandbox, { recursive: true, verbatimSymlinks: true });
}

afterAll(async () => {
  if (work) await fs.rm(work, { recursive: true, force: true });
});

it('the clean pipeline (explore .. export) runs with exit 0', () => {
  expect(setup.filter((r) => r.code !== 0).map(describeRun)).toEqual([]);
});

describe('exit codes', () => {
  it('explore: 0 when some images were read, 1 with --strict when one failed', async () => {
    expect((await cli(['explore', '--data', 'data', '--out', 'strict'])).code).toBe(0);
    expect((await cli(['explore', '--data', 'data', '--out', 'strict', '--strict'])).code).toBe(1);
  });

  it('process: 1 with --strict when an image failed', async () => {
    expect((await cli(['process', '--data', 'data', '--out', 'strict', '--strict'])).code).toBe(1);
  });

  it('explore and process: 1 when nothing succeeded (a dataset of only bad files)', async () => {
    const explore = await cli(['explore', '--data', 'bad', '--out', 'badout']);
    expect({ code: explore.code, run: describeRun(explore) }).toMatchObject({ code: 1 });
    const process = await cli(['process', '--data', 'bad', '--out', 'badout']);
    expect({ code: process.code, run: describeRun(process) }).toMatchObject({ code: 1 });
  });

  it.each([
    ['explore', ['explore', '--data', '/nonexistent/agekit-data', '--out', 'missing']],
    ['process', ['process', '--data', '/nonexistent/agekit-data', '--out', 'missing']],
    ['resample', ['resample', '--data', '/nonexistent/agekit-data', '--out', 'missing', '--target', 'not-majority']],
    ['visualize', ['visualize', '--metadata', '/nonexistent/metadata.csv', '--out', 'missing']],
    ['predict', ['predict', '/nonexistent/photo.jpg', '--bundle', 'out/bundle', '--no-detect']],
  ])('%s: 1 when an input named on the command line is missing', async (_name, args) => {
    const run = await cli(args);
    expect({ code: run.code, stack: stackLines(run.stderr), run: describeRun(run) }).toMatchObject({ code: 1, stack: [] });
  });

  it('train: 1 when --data is missing', async () => {
    const run = await trainer(['train', '--config', trainConfig, '--data', '/nonexistent/agekit-data', '--out', 'missing/model']);
    expect({ code: run.code, stack: stackLines(run.stderr) }).toEqual({ code: 1, stack: [] });
  });

  it('process --data /nonexistent names the missing folder, not "run explore first"', async () => {
    const run = await cli(['process', '--data', '/nonexistent/agekit-data', '--out', 'missing']);
    expect(run.stderr).toContain('/nonexistent/agekit-data');
    expect(run.stderr).not.toMatch(/explore.{0,10}first/i);
  });

  it('predict: non-zero when every input fails', async () => {
    const run = await cli(['predict', 'bad', '--bundle', 'out/bundle', '--no-detect']);
    expect(run.code).not.toBe(0);
  });
});

describe('--out refusals (exit 2, one line, no stack trace, nothing written)', () => {
  beforeEach(restoreSandbox);
  const cases: Array<[string, AppName, string[]]> = [
    ['explore --out a regular file', 'cli', ['explore', '--data', 'data', '--out', 'afile.txt']],
    ['explore --out inside --data', 'cli', ['explore', '--data', 'data', '--out', 'data/20']],
    ['process --out a regular file', 'cli', ['process', '--data', 'data', '--out', 'afile.txt', '--metadata', 'out/csv/metadata.csv']],
    ['process --out inside --data', 'cli', ['process', '--data', 'data', '--out', 'data/20', '--metadata', 'out/csv/metadata.csv']],
    ['visualize --out a regular file', 'cli', ['visualize', '--metadata', 'out/csv/metadata.csv', '--out', 'afile.txt']],
    ['visualize --out inside --data', 'cli', ['visualize', '--data', 'data', '--metadata', 'out/csv/metadata.csv', '--out', 'data/20']],
    ['resample --out a regular file', 'cli', ['resample', '--input', 'out/processed_dataset', '--out', 'afile.txt', '--target', 'not-majority']],
    ['resample --out inside --input', 'cli', ['resample', '--input', 'out/processed_dataset', '--out', 'out/processed_dataset/20', '--target', 'not-majority']],
    ['train --out a regular file', 'trainer', ['train', '--config', '', '--data', 'out/resampled_dataset', '--out', 'afile.txt']],
    ['train --out inside --data', 'trainer', ['train', '--config', '', '--data', 'out/resampled_dataset', '--out', 'out/resampled_dataset/train/model']],
  ];
  it.each(cases)('%s', async (_name, app, args) => {
    const { run, changed } = await runWatched(app, args.map((a, i) => (args[i - 1] === '--config' ? trainConfig : a)));
    expectOneLineRefusal(run);
    expect(changed).toEqual([]);
  });
});

describe('exporter: what is at --out', () => {
  beforeEach(restoreSandbox);
  const exportArgs = (out: string, ...more: string[]) => ['export', '--model', 'out/model', '--out', out, '--data', 'out/resampled_dataset', '--images', '8', '--min-images', '2', ...more];

  it.each([
    ['a folder of unrelated user files', 'userdir'],
    ['a regular file', 'afile.txt'],
    ['the --model folder', 'out/model'],
    ['a folder inside --model', 'out/model/plots'],
    ['the --data folder', 'out/resampled_dataset'],
    ['a folder inside --data', 'out/resampled_dataset/test'],
  ])('refuses --out = %s (exit 2) and touches nothing', async (_what, out) => {
    const { run, changed } = await runWatched('exporter', exportArgs(out));
    expect({ code: run.code, stack: stackLines(run.stderr) }).toEqual({ code: 2, stack: [] });
    expect(changed).toEqual([]);
  });

  it('replaces a previous bundle only with --force', async () => {
    const refused = await runWatched('exporter', exportArgs('out/bundle'));
    expect(refused.run.code).toBe(2);
    expect(refused.changed).toEqual([]);
    const forced = await runWatched('exporter', exportArgs('out/bundle', '--force'));
    expect({ code: forced.run.code, run: describeRun(forced.run) }).toMatchObject({ code: 0 });
    expect(forced.changed.every((c) => / out\/bundle(\/|$)/.test(c))).toBe(true);
    const after = await snapshotTree(sandbox);
    expect(after.get('out/bundle/bundle.json')).toMatch(/^file /);
    expect(after.get('out/bundle/model.onnx')).toMatch(/^file /);
    expect(temporaryLeftovers(after)).toEqual([]);
  });

  it('--data /nonexistent: exit 1 and no bundle at --out', async () => {
    const { run } = await runWatched('exporter', ['export', '--model', 'out/model', '--out', 'newbundle', '--data', '/nonexistent/agekit-data']);
    expect(run.code).toBe(1);
    expect(existsSync(path.join(sandbox, 'newbundle'))).toBe(false);
    expect(temporaryLeftovers(await snapshotTree(sandbox))).toEqual([]);
  });

  it('--data /nonexistent over a previous bundle (--force): exit 1 and the previous bundle intact', async () => {
    const before = subtree(await snapshotTree(sandbox), 'out/bundle');
    expect(before.size).toBeGreaterThan(0);
    const { run } = await runWatched('exporter', ['export', '--model', 'out/model', '--out', 'out/bundle', '--data', '/nonexistent/agekit-data', '--force']);
    expect(run.code).toBe(1);
    const after = await snapshotTree(sandbox);
    expect(subtree(after, 'out/bundle')).toEqual(before);
    expect(temporaryLeftovers(after)).toEqual([]);
  });

  it('verifies on each image of a folder with a directory loop once', async () => {
    const run = await exporter(['export', '--model', 'out/model', '--out', 'loopbundle', '--data', 'photos', '--images', '1000', '--min-images', '2', '--json']);
    const result = jsonOutput<{ verification?: { tfjs?: { images: number } } }>(run);
    expect({ code: run.code, images: result?.verification?.tfjs?.images }).toEqual({ code: 0, images: photoCount });
  });
});

describe('predict', () => {
  it('reports each image of a folder with a directory loop once', async () => {
    const run = await cli(['predict', 'photos', '--bundle', 'out/bundle', '--no-detect', '--json']);
    const result = jsonOutput<{ results?: Array<{ file: string }> }>(run);
    const files = (result?.results ?? []).map((r) => r.file);
    expect({ code: run.code, count: files.length, unique: new Set(files).size }).toEqual({ code: 0, count: photoCount, unique: photoCount });
  });
});
