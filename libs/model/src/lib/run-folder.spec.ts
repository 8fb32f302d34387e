import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beginRunFolder } from './run-folder';

describe('beginRunFolder', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-run-folder-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('stages the run beside the previous one, links its cache in, and replaces it whole on commit', async () => {
    const out = path.join(dir, 'run');
    await fs.mkdir(path.join(out, 'cache'), { recursive: true });
    await fs.writeFile(path.join(out, 'cache', 'train.bin'), 'pixels');
    await fs.writeFile(path.join(out, 'old-model.json'), 'old');
    const { outputs, staging } = await beginRunFolder(out, [], false);
    expect(staging).not.toBe(out);
    const [linked, original] = await Promise.all([fs.stat(path.join(staging, 'cache', 'train.bin')), fs.stat(path.join(out, 'cache', 'train.bin'))]);
    expect(linked.ino).toBe(original.ino);
    await fs.writeFile(path.join(staging, 'model.json'), 'new');
    // until the commit the previous run is untouched
    expect((await fs.readdir(out)).sort()).toEqual(['cache', 'old-model.json']);
    await outputs.commit();
    expect((await fs.readdir(out)).sort()).toEqual(['cache', 'model.json']);
    expect(await fs.readdir(dir)).toEqual(['run']);
  });

  it('an aborted run leaves the previous run as it was and no staging folder', async () => {
    const out = path.join(dir, 'run');
    await fs.mkdir(out);
    await fs.writeFile(path.join(out, 'model.json'), 'previous');
    const { outputs, staging } = await beginRunFolder(out, [], false);
    await fs.writeFile(path.join(staging, 'model.json'), 'half');
    await outputs.abort();
    expect(await fs.readFile(path.join(out, 'model.json'), 'utf8')).toBe('previous');
    expect(await fs.readdir(dir)).toEqual(['run']);
  });
});
