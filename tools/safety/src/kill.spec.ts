/**
 * Issue #17: SIGKILL each writing stage of the BUILT apps mid-run (explore, process, resample, train, export). Each
 * stage first runs to completion (the previous output), then again with another option (so its output would differ)
 * and is killed once it has made progress. Then: its output paths hold the previous complete output or nothing (never
 * a mix or a partial), the downstream stage refuses clearly or runs on the previous output, and a rerun of the killed
 * stage succeeds, leaves no temporary files, and the downstream stage runs.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeLargeDataset, TRAIN_CONFIG } from './corpus.testing';
import {
  assertAppsBuilt,
  describeRun,
  firstOf,
  runApp,
  snapshotTree,
  startApp,
  subtree,
  temporaryLeftovers,
  waitFor,
  type AppName,
  type AppRun,
} from './sandbox.testing';

/** Enough images that each stage is still running when it is killed, few enough for the time budget. */
const IMAGES = 400;
/** Side of the faces: under the quality config's minSide (100), so process has to upscale every image. */
const FACE_SIDE = 96;

let work: string;
let sandbox: string;
const configs: Record<string, string> = {};

interface Command {
  app: AppName;
  args: string[];
}

interface KillCase {
  stage: string;
  /** Output paths of the stage, relative to the sandbox. */
  outputs: string[];
  previous: Command;
  /** The run that is killed: other options than `previous`. */
  killed: Command;
  /** The run that completes after the kill (the killed options, or a shorter variant of them). */
  rerun: Command;
  /** True once the killed run has made progress (its stderr so far, the sandbox). */
  progressed: (stderr: string) => boolean | Promise<boolean>;
  downstream: Command;
}

/** A temporary entry anywhere under the sandbox's out/ folder. */
async function tempEntryUnderOut(): Promise<boolean> {
  try {
    return temporaryLeftovers(await snapshotTree(path.join(sandbox, 'out'), { hash: false })).length > 0;
  } catch {
    return false;
  }
}

const CASES: KillCase[] = [
  {
    stage: 'explore',
    outputs: ['out/csv/metadata.csv'],
    previous: { app: 'cli', args: ['explore', '--data', 'data', '--out', 'out', '--sharp-only', '--workers', '1', '--config', '@quality-a'] },
    killed: { app: 'cli', args: ['explore', '--data', 'data', '--out', 'out', '--sharp-only', '--workers', '1', '--config', '@quality-b'] },
    rerun: { app: 'cli', args: ['explore', '--data', 'data', '--out', 'out', '--sharp-only', '--workers', '1', '--config', '@quality-b'] },
    progressed: (stderr) => /^explore: /m.test(stderr),
    downstream: { app: 'cli', args: ['process', '--data', 'data', '--out', 'out'] },
  },
  {
    stage: 'process',
    outputs: ['out/processed_dataset', 'out/csv/processing.csv'],
    previous: { app: 'cli', args: ['process', '--data', 'data', '--out', 'out', '--config', '@enhance-a'] },
    killed: { app: 'cli', args: ['process', '--data', 'data', '--out', 'out', '--config', '@enhance-b'] },
    rerun: { app: 'cli', args: ['process', '--data', 'data', '--out', 'out', '--config', '@enhance-b'] },
    progressed: async (stderr) => /^process: \d/m.test(stderr) && ((await tempEntryUnderOut()) || /^process: [1-9]/m.test(stderr)),
    downstream: { app: 'cli', args: ['resample', '--out', 'out', '--target', 'not-majority', '--total', '1200', '--seed', '1'] },
  },
  {
    stage: 'resample',
    outputs: ['out/resampled_dataset', 'out/csv/resampling.csv'],
    previous: { app: 'cli', args: ['resample', '--out', 'out', '--target', 'not-majority', '--total', '1200', '--seed', '1'] },
    killed: { app: 'cli', args: ['resample', '--out', 'out', '--target', 'not-majority', '--total', '1200', '--seed', '2'] },
    rerun: { app: 'cli', args: ['resample', '--out', 'out', '--target', 'not-majority', '--total', '1200', '--seed', '2'] },
    progressed: (stderr) => /^(copy|augment): /m.test(stderr),
    downstream: { app: 'trainer', args: ['train', '--config', '@train', '--data', 'out/resampled_dataset', '--out', 'out/model'] },
  },
  {
    stage: 'train',
    outputs: ['out/model'],
    previous: { app: 'trainer', args: ['train', '--config', '@train', '--data', 'out/resampled_dataset', '--out', 'out/model'] },
    killed: { app: 'trainer', args: ['train', '--config', '@train', '--data', 'out/resampled_dataset', '--out', 'out/model', '--epochs', '40', '--seed', '9'] },
    rerun: { app: 'trainer', args: ['train', '--config', '@train', '--data', 'out/resampled_dataset', '--out', 'out/model', '--epochs', '2', '--seed', '9'] },
    progressed: (stderr) => /^epoch 1\//m.test(stderr),
    // --force: the downstream export runs twice (after the kill, after the rerun) and replaces its own bundle
    downstream: { app: 'exporter', args: ['export', '--model', 'out/model', '--out', 'out/bundle', '--data', 'out/resampled_dataset/val', '--images', '16', '--min-images', '4', '--force'] },
  },
  {
    stage: 'export',
    outputs: ['out/bundle'],
    previous: { app: 'exporter', args: ['export', '--model', 'out/model', '--out', 'out/bundle', '--data', 'out/resampled_dataset/val', '--images', '16', '--min-images', '4', '--force'] },
    killed: { app: 'exporter', args: ['export', '--model', 'out/model', '--out', 'out/bundle', '--data', 'out/resampled_dataset', '--images', '256', '--min-images', '4', '--layout', 'NHWC', '--force'] },
    rerun: { app: 'exporter', args: ['export', '--model', 'out/model', '--out', 'out/bundle', '--data', 'out/resampled_dataset/val', '--images', '16', '--min-images', '4', '--layout', 'NHWC', '--force'] },
    progressed: async (stderr) => /^(wrote |verifying |verify: )/m.test(stderr) || (await tempEntryUnderOut()),
    downstream: { app: 'cli', args: ['predict', 'out/resampled_dataset/test', '--bundle', 'out/bundle', '--no-detect'] },
  },
];

function resolveArgs(args: string[]): string[] {
  return args.map((a) => (a.startsWith('@') ? configs[a.slice(1)] : a));
}

const run = (command: Command): Promise<AppRun> => runApp(command.app, resolveArgs(command.args), sandbox, 180_000);

/** The state of a stage's output paths: each path's subtree (or 'absent'), as one comparable string. */
async function outputState(outputs: string[]): Promise<Record<string, string>> {
  const all = await snapshotTree(sandbox);
  const state: Record<string, string> = {};
  for (const output of outputs) {
    const own = all.get(output);
    if (own === undefined) state[output] = 'absent';
    else if (own !== 'dir') state[output] = own;
    else state[output] = JSON.stringify([...subtree(all, output)].sort());
  }
  return state;
}

/**
 * Temporary entries that belong to a stage: inside its output paths, or beside one with its name in theirs
 * (`out/.resampled_dataset.tmp-1`, `out/csv/.metadata.csv.tmp-2`). Another stage's leftovers are that stage's failure.
 */
function ownLeftovers(outputs: string[], snapshot: Map<string, string>): string[] {
  return temporaryLeftovers(snapshot).filter((p) =>
    outputs.some((o) => p.startsWith(`${o}/`) || (path.posix.dirname(p) === path.posix.dirname(o) && path.posix.basename(p).includes(path.posix.basename(o)))),
  );
}

beforeAll(async () => {
  assertAppsBuilt();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-safety-kill-'));
  sandbox = path.join(work, 'sandbox');
  await makeLargeDataset(path.join(sandbox, 'data'), IMAGES, FACE_SIDE);
  const write = async (name: string, value: unknown) => {
    configs[name] = path.join(work, `${name}.json`);
    await fs.writeFile(configs[name], JSON.stringify(value));
  };
  await write('quality-a', { thresholds: { blurryBelow: 100 } });
  await write('quality-b', { thresholds: { blurryBelow: 400 } });
  await write('enhance-a', { jpegQuality: 95, threads: 1, concurrency: 2 });
  await write('enhance-b', { jpegQuality: 70, threads: 1, concurrency: 2 });
  await write('train', TRAIN_CONFIG);
}, 120_000);

afterAll(async () => {
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe.each(CASES)('SIGKILL $stage mid-run', (kill) => {
  let previous: Record<string, string>;
  let killedRun: AppRun;
  let afterKill: Record<string, string>;

  it('runs once to completion (the previous output)', async () => {
    const first = await run(kill.previous);
    expect({ code: first.code, run: first.code === 0 ? '' : describeRun(first) }).toEqual({ code: 0, run: '' });
    previous = await outputState(kill.outputs);
    expect(Object.values(previous)).not.toContain('absent');
  });

  it('is killed while running (it had made progress and had not finished)', async () => {
    const running = startApp(kill.killed.app, resolveArgs(kill.killed.args), sandbox, 180_000);
    let exited = false;
    void running.done.then(() => (exited = true));
    await waitFor(async () => exited || (await kill.progressed(running.stderr())), 120_000, 10);
    const finishedFirst = exited;
    running.child.kill('SIGKILL');
    killedRun = await running.done;
    afterKill = await outputState(kill.outputs);
    expect({ finishedBeforeTheKill: finishedFirst, signal: killedRun.signal, run: finishedFirst ? describeRun(killedRun) : '' }).toEqual({
      finishedBeforeTheKill: false,
      signal: 'SIGKILL',
      run: '',
    });
  });

  it('leaves the previous complete output or nothing at each output path (never a mix or a partial)', () => {
    expect({ previousCompleted: previous !== undefined, killed: afterKill !== undefined }).toEqual({ previousCompleted: true, killed: true });
    const mixed = kill.outputs.filter((o) => afterKill[o] !== 'absent' && afterKill[o] !== previous[o]);
    expect(mixed.map((o) => `${o}: neither the previous output nor absent`)).toEqual([]);
  });

  it('the downstream stage then refuses clearly or runs on the previous output', async () => {
    expect({ previousCompleted: previous !== undefined, killed: afterKill !== undefined }).toEqual({ previousCompleted: true, killed: true });
    const down = await run(kill.downstream);
    const allPrevious = kill.outputs.every((o) => afterKill[o] === previous[o]);
    const ok = (down.code === 0 && allPrevious) || (down.code !== 0 && down.stderr.trim() !== '');
    expect({ ok, outputs: allPrevious ? 'previous' : 'not all previous', run: ok ? '' : describeRun(down) }).toMatchObject({ ok: true });
  });

  it('a rerun of the killed stage succeeds and leaves no temporary files', async () => {
    const again = await run(kill.rerun);
    expect({ code: again.code, run: again.code === 0 ? '' : describeRun(again) }).toEqual({ code: 0, run: '' });
    expect(firstOf(ownLeftovers(kill.outputs, await snapshotTree(sandbox)))).toEqual([]);
  });

  it('the downstream stage runs on the rerun output', async () => {
    const down = await run(kill.downstream);
    expect({ code: down.code, run: down.code === 0 ? '' : describeRun(down) }).toEqual({ code: 0, run: '' });
  });
});
