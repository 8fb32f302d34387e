import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../main';
import { cliVersion } from './version';

describe('cliVersion', () => {
  it('reads the version of apps/cli/package.json when run from the sources', async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(cliVersion()).toBe(manifest.version);
  });

  it('agekit --version prints it alone and exits 0', async () => {
    const written: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    try {
      expect(await runCli(['--version'])).toBe(0);
    } finally {
      write.mockRestore();
    }
    expect(written.join('')).toBe(`${cliVersion()}\n`);
  });

  it('takes the nearest @agekit/cli package.json above, skipping other packages, else says unknown', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-version-'));
    try {
      await fs.mkdir(path.join(dir, 'cli', 'other'), { recursive: true });
      await fs.writeFile(path.join(dir, 'cli', 'package.json'), JSON.stringify({ name: '@agekit/cli', version: '9.8.7' }));
      await fs.writeFile(path.join(dir, 'cli', 'other', 'package.json'), JSON.stringify({ name: 'other', version: '1.0.0' }));
      expect(cliVersion(path.join(dir, 'cli', 'other'))).toBe('9.8.7');
      expect(cliVersion(dir)).toBe('unknown');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
