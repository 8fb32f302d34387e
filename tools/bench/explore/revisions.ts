#!/usr/bin/env node
/**
 * Benchmark: `agekit explore` as built from a baseline git revision against the same command built from the working
 * tree, and both against the OpenCV reference with its heap kept (the yardstick that does not depend on the machine's
 * page-fault cost; see main.ts), on the same images, the three alternating for --rounds N (default 5). Prints each
 * round's stage rate (the CLI's `--json` imagesPerSecond) with the whole command's wall-clock and CPU seconds, the
 * medians, current / baseline, each against the reference, and whether the two metadata.csv files are byte-identical.
 *
 * Why the CLI and not exploreDataset as main.ts does: a revision from before explore was a library call (e.g. 33d507a,
 * the commit before issue #20 moved it) has no exploreDataset, and the CLI is what both revisions ship.
 *
 * The baseline is checked out as a detached git worktree in tmp/bench-explore-revisions/<commit> (node_modules linked
 * from this workspace, its explore engine built there) and removed afterwards unless --keep.
 * Each side's CLI is bundled as it ships (tools/scripts/bundle-app.mjs) inside its own tree, where it finds its addon.
 *
 * Usage: npx tsx tools/bench/explore/revisions.ts --data ../shared/data/utkface --baseline REV [--rounds N] [--limit N] [--keep]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { metadataCsvPath } from '@agekit/dataset';
import { median } from '../statistics';
import { benchInputs, keptHeapEnv, ROOT, run, runReference, warmPageCache } from './reference';

const TREES = path.join(ROOT, 'tmp', 'bench-explore-revisions');
const BUNDLE = path.join('tmp', 'bench-explore-revisions', 'agekit.js');

interface Side {
  name: string;
  tree: string;
  rates: number[];
  seconds: number[];
  cpuSeconds: number[];
  lastOut?: string;
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A command in `cwd` that must succeed (building and bundling are not timed). */
async function mustRun(cwd: string, what: string, cmd: string, args: string[]): Promise<void> {
  const result = await run(cmd, args, { cwd });
  if (result.code !== 0) throw new Error(`${what} failed in ${cwd} (${result.code}): ${result.stderr.slice(-2000)}`);
}

/** The baseline's tree: a detached worktree at `commit`, with this workspace's node_modules and its own native addons. */
async function checkOutBaseline(commit: string): Promise<string> {
  const tree = path.join(TREES, commit.slice(0, 12));
  if (!existsSync(tree)) {
    await fs.mkdir(TREES, { recursive: true });
    git(['worktree', 'add', '--detach', tree, commit]);
    try {
      await fs.symlink(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
      console.log(`baseline ${commit.slice(0, 12)}: building its explore engine (native addon) ...`);
      await mustRun(tree, 'building the explore engine', process.execPath, ['tools/scripts/build-native.mjs', 'quality']);
    } catch (error) {
      // a tree left without its engine would be reused next time and measured on the slower JS path
      git(['worktree', 'remove', '--force', tree]);
      throw error;
    }
  }
  return tree;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      baseline: { type: 'string' },
      rounds: { type: 'string', default: '5' },
      limit: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const usage = 'usage: npx tsx tools/bench/explore/revisions.ts --data DIR (with labels.csv) --baseline REV [--rounds N (default 5)] [--limit N] [--keep]';
  if (values.help || !values.data || !values.baseline) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const rounds = Number(values.rounds);
  const limit = values.limit !== undefined ? Number(values.limit) : undefined;
  if (!Number.isInteger(rounds) || rounds < 1 || (limit !== undefined && !(Number.isInteger(limit) && limit > 0))) {
    console.log(`--rounds and --limit must be whole numbers >= 1 (got '${values.rounds}', '${values.limit}')\n${usage}`);
    return 2;
  }
  let commit: string;
  try {
    commit = git(['rev-parse', '--verify', `${values.baseline}^{commit}`]);
  } catch {
    console.log(`--baseline: '${values.baseline}' is not a commit of this repository`);
    return 2;
  }
  const inputs = benchInputs(values.data);
  if (!inputs) return 0;
  const { data, labels } = inputs;

  const baseTree = await checkOutBaseline(commit);
  try {
    const sides: Side[] = [
      { name: `baseline ${commit.slice(0, 12)}`, tree: baseTree, rates: [], seconds: [], cpuSeconds: [] },
      { name: 'current (working tree)', tree: ROOT, rates: [], seconds: [], cpuSeconds: [] },
    ];
    for (const side of sides) await mustRun(side.tree, `bundling the CLI (${side.name})`, process.execPath, ['tools/scripts/bundle-app.mjs', 'apps/cli/src/main.ts', BUNDLE]);
    const n = await warmPageCache(labels, limit);
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-bench-revisions-'));
    const referenceRates: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      // the order turns each round, so neither side always runs right after the reference
      const order = round % 2 ? sides : [...sides].reverse();
      for (const side of order) {
        const out = path.join(work, `${side.tree === ROOT ? 'current' : 'baseline'}-${round}`);
        const args = [BUNDLE, 'explore', '--data', data, '--out', out, '--json', ...(limit !== undefined ? ['--limit', String(limit)] : [])];
        const result = await run(process.execPath, args, { cwd: side.tree });
        if (result.code !== 0) throw new Error(`agekit explore (${side.name}) failed (${result.code}): ${result.stderr.slice(-2000)}`);
        const summary = JSON.parse(result.stdout) as { imagesPerSecond: number };
        side.rates.push(summary.imagesPerSecond);
        side.seconds.push(result.seconds);
        side.cpuSeconds.push(result.cpuSeconds);
        side.lastOut = out;
      }
      const reference = await runReference(labels, path.join(work, 'reference.csv'), limit, keptHeapEnv());
      referenceRates.push(reference.rate);
      console.log(
        `round ${round}/${rounds}: ` +
          sides.map((s) => `${s.name} ${s.rates[round - 1].toFixed(0)} img/s (${s.seconds[round - 1].toFixed(2)} s, CPU ${s.cpuSeconds[round - 1].toFixed(2)} s)`).join('; ') +
          `; reference with its heap kept ${reference.rate.toFixed(0)} img/s in its loop`,
      );
    }

    const [base, current] = sides;
    const ref = median(referenceRates);
    console.log(`\n== ${n} images, ${rounds} rounds, medians ==`);
    for (const s of sides) {
      console.log(
        `${s.name}: ${median(s.rates).toFixed(0)} img/s in the stage = ${(median(s.rates) / ref).toFixed(2)}x the reference with its heap kept ` +
          `(${ref.toFixed(0)} img/s); whole command ${median(s.seconds).toFixed(2)} s, CPU ${((1000 * median(s.cpuSeconds)) / n).toFixed(3)} ms/image`,
      );
    }
    const perRound = current.rates.map((r, k) => r / base.rates[k]);
    console.log(
      `current / baseline: stage rate ${median(perRound).toFixed(2)}x (rounds ${perRound.map((r) => `${r.toFixed(2)}x`).join(', ')}); ` +
        `whole command ${(median(base.seconds) / median(current.seconds)).toFixed(2)}x faster; CPU ${(median(current.cpuSeconds) / median(base.cpuSeconds)).toFixed(2)}x`,
    );
    const [a, b] = await Promise.all(sides.map((s) => fs.readFile(metadataCsvPath(s.lastOut ?? ''))));
    console.log(`metadata.csv of the two (round ${rounds}): ${a.equals(b) ? 'byte-identical' : 'DIFFERENT'}`);
    console.log(`load: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min) on ${os.cpus().length} cores; outputs in ${work}`);
    return 0;
  } finally {
    if (!values.keep) git(['worktree', 'remove', '--force', baseTree]);
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`bench explore revisions: ${(error as Error).message}`);
    process.exit(1);
  },
);
