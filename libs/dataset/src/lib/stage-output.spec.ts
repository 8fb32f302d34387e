import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OutputPathError, StageOutputs, staleTemporaries } from './stage-output';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-stage-output-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(root, p) + (e.isDirectory() ? '/' : ''));
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out.sort();
}

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('StageOutputs.begin refuses outputs that would touch an input', () => {
  it('an output inside an input, an input inside an output, or either through a symbolic link', async () => {
    const data = path.join(dir, 'data');
    await fs.mkdir(data);
    await fs.writeFile(path.join(data, 'raw.jpg'), 'raw');
    await expect(StageOutputs.begin({ inputs: [data], folders: [path.join(data, 'out')] })).rejects.toThrow(/is inside the input/);
    await expect(StageOutputs.begin({ inputs: [data], folders: [dir] })).rejects.toThrow(/holds the input/);
    await expect(StageOutputs.begin({ inputs: [data], folders: [data] })).rejects.toBeInstanceOf(OutputPathError);
    await fs.symlink(data, path.join(dir, 'alias'));
    await expect(StageOutputs.begin({ inputs: [data], files: [path.join(dir, 'alias', 'x.csv')] })).rejects.toThrow(/is inside the input/);
    await expect(StageOutputs.begin({ inputs: [path.join(data, 'raw.jpg')], folders: [path.join(dir, 'alias')] })).rejects.toThrow(/holds the input/);
    expect(await tree(data)).toEqual(['raw.jpg']);
  });

  it('a file where a folder goes (or under it), a folder where a file goes: one-line errors, nothing touched', async () => {
    await fs.writeFile(path.join(dir, 'file'), 'user data');
    await expect(StageOutputs.begin({ inputs: [], folders: [path.join(dir, 'file')] })).rejects.toThrow(/exists and is not a folder/);
    await expect(StageOutputs.begin({ inputs: [], files: [path.join(dir, 'file', 'csv', 'x.csv')] })).rejects.toThrow(/file: exists and is not a folder/);
    await fs.mkdir(path.join(dir, 'folder'));
    await expect(StageOutputs.begin({ inputs: [], files: [path.join(dir, 'folder')] })).rejects.toThrow(/is a folder/);
    expect(await fs.readFile(path.join(dir, 'file'), 'utf8')).toBe('user data');
  });

  it('a folder that is not replaceable is refused with the given reason and left as it was', async () => {
    await fs.mkdir(path.join(dir, 'bundle'));
    await fs.writeFile(path.join(dir, 'bundle', 'mine.txt'), 'keep me');
    await expect(StageOutputs.begin({ inputs: [], folders: [{ path: path.join(dir, 'bundle'), replaceable: () => false, refusal: 'not a bundle' }] })).rejects.toThrow(
      /bundle: not a bundle/,
    );
    expect(await tree(dir)).toEqual(['bundle/', 'bundle/mine.txt']);
  });
});

describe('StageOutputs: whole outputs or none', () => {
  it('commit replaces the previous folder and file together; nothing of the old run stays', async () => {
    const folder = path.join(dir, 'out', 'processed');
    const file = path.join(dir, 'out', 'csv', 'rows.csv');
    await fs.mkdir(folder, { recursive: true });
    await fs.writeFile(path.join(folder, 'stale.jpg'), 'old');
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, 'old csv');
    await StageOutputs.write({ inputs: [], folders: [folder], files: [file] }, async (outputs) => {
      await fs.writeFile(path.join(outputs.path(folder), 'new.jpg'), 'new');
      // before the commit the previous outputs are still whole
      expect(await fs.readFile(path.join(folder, 'stale.jpg'), 'utf8')).toBe('old');
      await fs.writeFile(outputs.path(file), 'new csv');
    });
    expect(await tree(path.join(dir, 'out'))).toEqual(['csv/', 'csv/rows.csv', 'processed/', 'processed/new.jpg']);
    expect(await fs.readFile(file, 'utf8')).toBe('new csv');
  });

  it('a failure leaves the previous outputs as they were and no temporary behind', async () => {
    const folder = path.join(dir, 'processed');
    await fs.mkdir(folder);
    await fs.writeFile(path.join(folder, 'old.jpg'), 'old');
    await expect(
      StageOutputs.write({ inputs: [], folders: [folder] }, async (outputs) => {
        await fs.writeFile(path.join(outputs.path(folder), 'half.jpg'), 'partial');
        throw new Error('killed half way');
      }),
    ).rejects.toThrow('killed half way');
    expect(await tree(dir)).toEqual(['processed/', 'processed/old.jpg']);
  });

  it('removes the temporaries of killed runs (dead pids) and keeps those of running ones', async () => {
    const folder = path.join(dir, 'processed');
    const dead = path.join(dir, `.processed.tmp-${deadPid()}-0`);
    const deadInner = path.join(dir, `..processed.tmp-${deadPid()}-3.tmp-1-1`);
    const live = path.join(dir, `.processed.tmp-${process.ppid}-0`);
    for (const d of [dead, deadInner, live]) await fs.mkdir(d);
    expect((await staleTemporaries(folder)).sort()).toEqual([dead, deadInner].sort());
    const outputs = await StageOutputs.begin({ inputs: [], folders: [folder] });
    expect([...outputs.removedStale].sort()).toEqual([dead, deadInner].sort());
    await outputs.commit();
    expect(existsSync(dead) || existsSync(deadInner)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it('keep carries another stage\'s entries over; adoptStale continues from a killed run\'s folder', async () => {
    const viz = path.join(dir, 'visualizations');
    await fs.mkdir(path.join(viz, 'resample'), { recursive: true });
    await fs.writeFile(path.join(viz, 'resample', 'chart.png'), 'theirs');
    await fs.writeFile(path.join(viz, 'old.png'), 'ours, stale');
    await StageOutputs.write({ inputs: [], folders: [{ path: viz, keep: ['resample'] }] }, async (outputs) => {
      await fs.writeFile(path.join(outputs.path(viz), 'new.png'), 'ours');
    });
    expect(await tree(viz)).toEqual(['new.png', 'resample/', 'resample/chart.png']);

    const run = path.join(dir, 'model');
    const killed = path.join(dir, `.model.tmp-${deadPid()}-0`);
    await fs.mkdir(path.join(killed, 'checkpoints'), { recursive: true });
    await fs.writeFile(path.join(killed, 'checkpoints', 'last.json'), 'epoch 3');
    const outputs = await StageOutputs.begin({ inputs: [], folders: [{ path: run, adoptStale: true }] });
    expect(outputs.adoptedStale).toBe(killed);
    expect(await fs.readFile(path.join(outputs.path(run), 'checkpoints', 'last.json'), 'utf8')).toBe('epoch 3');
    await outputs.abort();
  });
});
