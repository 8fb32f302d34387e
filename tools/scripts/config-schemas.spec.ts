import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { CONFIG_SCHEMAS, renderSchema, SCHEMAS_FOLDER, schemaReference } from './config-schemas';

describe('configs/schemas', () => {
  it.each(CONFIG_SCHEMAS.map((e) => [e.name, e] as const))('%s.schema.json is what the code validates with (else: npx tsx tools/scripts/config-schemas.ts)', async (_name, entry) => {
    expect(await fs.readFile(path.join(SCHEMAS_FOLDER, `${entry.name}.schema.json`), 'utf8')).toBe(renderSchema(entry));
  });

  /** Every config in configs/ (but the Nx project): a stage's own (`<name>.json`), its variants (`<name>-<variant>.json`) and recipes (model-all-ages.json), each naming its schema in "$schema". */
  const configFiles = (): Promise<string[]> =>
    fs.readdir(path.join(SCHEMAS_FOLDER, '..')).then((files) => files.filter((f) => f.endsWith('.json') && f !== 'project.json').sort());
  const readConfig = async (file: string): Promise<{ $schema?: string }> => JSON.parse(await fs.readFile(path.join(SCHEMAS_FOLDER, '..', file), 'utf8')) as { $schema?: string };
  const entryOf = (config: { $schema?: string }) => CONFIG_SCHEMAS.find((e) => config.$schema === schemaReference(e));

  it('every config in configs/ (but the Nx project) names a schema, a stage\'s own or variant names its stage\'s, and every schema has its own config', async () => {
    const files = await configFiles();
    const named = await Promise.all(files.map(async (file) => ({ file, entry: entryOf(await readConfig(file)) })));
    expect(named.filter((n) => !n.entry).map((n) => n.file)).toEqual([]);
    const misnamed = named.filter((n) => n.entry && CONFIG_SCHEMAS.some((e) => n.file === `${e.name}.json` || n.file.startsWith(`${e.name}-`)) && !(n.file === `${n.entry.name}.json` || n.file.startsWith(`${n.entry.name}-`)));
    expect(misnamed.map((n) => n.file)).toEqual([]);
    expect(CONFIG_SCHEMAS.filter((e) => !files.includes(`${e.name}.json`)).map((e) => e.name)).toEqual([]);
  });

  it('each config is valid against the schema file it names (what an editor checks)', async () => {
    for (const file of await configFiles()) {
      const config = await readConfig(file);
      const entry = entryOf(config);
      if (!entry) continue; // the test above names it
      const schema = JSON.parse(await fs.readFile(path.join(SCHEMAS_FOLDER, `${entry.name}.schema.json`), 'utf8')) as object;
      const validate = new Ajv({ strict: false, allowUnionTypes: true }).compile(schema);
      expect({ file, errors: validate(config) ? [] : validate.errors }).toEqual({ file, errors: [] });
    }
  });
});
