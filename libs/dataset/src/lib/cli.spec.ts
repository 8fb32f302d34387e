import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clipToWidth, EXIT, exitCodeOf, packageVersion, UsageError } from './cli';
import { ConfigError, DatasetError } from './errors';
import { OutputPathError } from './stage-output';

describe('cli helpers', () => {
  it('gives 2 for usage, config and output-path errors, 1 for anything else', () => {
    expect(exitCodeOf(new UsageError('x'))).toBe(EXIT.usage);
    expect(exitCodeOf(new ConfigError('c.json', '/a', 'bad'))).toBe(EXIT.usage);
    expect(exitCodeOf(new OutputPathError('/o', 'inside the input'))).toBe(EXIT.usage);
    expect(exitCodeOf(Object.assign(new TypeError('Unknown option'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }))).toBe(EXIT.usage);
    expect(exitCodeOf(new DatasetError('/d', 'empty'))).toBe(EXIT.failed);
    expect(exitCodeOf('a string')).toBe(EXIT.failed);
  });

  it('reads the version of the nearest package.json that has one', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cli-version-'));
    try {
      await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.2.3' }));
      await fs.mkdir(path.join(dir, 'src', 'lib'), { recursive: true });
      await fs.writeFile(path.join(dir, 'src', 'package.json'), JSON.stringify({ type: 'commonjs' }));
      expect(packageVersion(path.join(dir, 'src', 'lib'))).toBe('1.2.3');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('clips a line to the terminal width, leaving it alone when the width is unknown', () => {
    expect(clipToWidth('abcdefghij', 6)).toBe('abcd…');
    expect(clipToWidth('abcd', 6)).toBe('abcd');
    expect(clipToWidth('abcdefghij', undefined)).toBe('abcdefghij');
  });
});
