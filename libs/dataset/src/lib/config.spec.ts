import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, validateConfig } from './config';
import { ConfigError } from './errors';

interface Cfg {
  seed: number;
  ratio?: number;
  mode: 'a' | 'b';
}
const schema = {
  type: 'object',
  properties: {
    seed: { type: 'integer', minimum: 0 },
    ratio: { type: 'number', default: 0.5 },
    mode: { type: 'string', enum: ['a', 'b'] },
  },
  required: ['seed', 'mode'],
  additionalProperties: false,
};

describe('config', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-config-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('loads a valid file and fills defaults', async () => {
    const file = path.join(dir, 'ok.json');
    await fs.writeFile(file, JSON.stringify({ seed: 3, mode: 'a' }));
    expect(await loadConfig<Cfg>(file, schema)).toEqual({ seed: 3, mode: 'a', ratio: 0.5 });
  });

  it('names the file and the field for a wrong type, an unknown field and a missing field', async () => {
    const bad = path.join(dir, 'bad.json');
    await fs.writeFile(bad, JSON.stringify({ seed: 'x', mode: 'a' }));
    const e = (await loadConfig<Cfg>(bad, schema).catch((x: unknown) => x)) as ConfigError;
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.file).toBe(bad);
    expect(e.field).toBe('/seed');
    expect(e.message).toContain('bad.json (/seed)');
    expect(() => validateConfig({ seed: 1, mode: 'a', colour: 1 }, schema, 'c.json')).toThrow(/unknown field 'colour'/);
    expect(() => validateConfig({ seed: 1 }, schema, 'c.json')).toThrow(/missing required field 'mode'/);
    expect(() => validateConfig({ seed: 1, mode: 'z' }, schema, 'c.json')).toThrow(/"a", "b"/);
  });

  it('names the file when it is missing or not JSON', async () => {
    await expect(loadConfig(path.join(dir, 'nope.json'), schema)).rejects.toThrow(/nope.json: cannot read config/);
    const broken = path.join(dir, 'broken.json');
    await fs.writeFile(broken, '{ "seed": ');
    await expect(loadConfig(broken, schema)).rejects.toThrow(/broken.json: not valid JSON/);
  });
});
