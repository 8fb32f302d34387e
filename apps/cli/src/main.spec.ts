import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './main';
import { COMMANDS } from './commands';
import { captureTerminal } from './lib/terminal.testing';

/** What runCli writes to the real stdout/stderr (the top-level help and version do not go through a Terminal). */
async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    const t = captureTerminal();
    const code = await runCli(argv, t.term);
    return { code, stdout: stdout + t.stdout(), stderr: stderr + t.stderr() };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('agekit (one CLI behaviour)', () => {
  it('--version prints the version of apps/cli/package.json alone on stdout', async () => {
    const r = await capture(['--version']);
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout).toBe(`${manifest.version}\n`);
  });

  it('--help lists the commands in pipeline order; no command is a usage error on stderr', async () => {
    const help = await capture(['--help']);
    expect(help.code).toBe(0);
    const listed = help.stdout.split('\n').map((l) => /^ {2}(\w+) /.exec(l)?.[1]).filter(Boolean);
    expect(listed).toEqual(['explore', 'process', 'visualize', 'resample', 'predict', 'serve']);
    expect(Object.keys(COMMANDS)).toEqual(listed);
    const none = await capture([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/usage: agekit <command>/);
  });

  it('a command rejects a flag it does not use (serve takes no --seed, --data or --strict), with usage on stderr', async () => {
    for (const flag of ['--seed=1', '--data=x', '--strict']) {
      const r = await capture(['serve', flag, '--bundle', 'nowhere']);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/Unknown option/);
      expect(r.stderr).toMatch(/usage: agekit serve/);
    }
  });

  it('a config error exits 2 with one line on stderr', async () => {
    const r = await capture(['resample', '--config', '/nonexistent/resample.json', '--data', '/nonexistent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read config/);
  });
});
