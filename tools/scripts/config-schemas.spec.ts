import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { CONFIG_SCHEMAS, renderSchema, SCHEMAS_FOLDER, schemaReference } from './config-schemas';

describe('configs/schemas', () => {
  it.each(CONFIG_SCHEMAS.map((e) => [e.name, e] as const))('%s.schema.json is what the code validates with (else: npx tsx tools/scripts/config-schemas.ts)', async (_name, entry) => {
    expect(await fs.readFile(path.join(SCHEMAS_FOLDER, `${entry.name}.schema.json`), 'utf8')).toBe(renderSchema(entry));
  });

  /** Every config in configs/ (but the Nx project): a stage's own (`<name>.json`) and its variants (`<name>-<variant>.json`). */
  const configFiles = (): Promise<string[]> =>
    fs.readdir(path.join(SCHEMAS_FOLDER, '..')).then((files) => files.filter((f) => f.endsWith('.json') && f !== 'project.json').sort());
  const entryOf = (file: string) => CONFIG_SCHEMAS.find((e) => file === `${e.name}.json` || file.startsWith(`${e.name}-`));

  it('every config in configs/ (but the Nx project) is a schema\'s own or one of its variants, and every schema has its own', async () => {
    const files = await configFiles();
    expect(files.filter((f) => !entryOf(f))).toEqual([]);
    expect(CONFIG_SCHEMAS.filter((e) => !files.includes(`${e.name}.json`)).map((e) => e.name)).toEqual([]);
  });

  it('each config names its schema and is valid against the generated file (what an editor checks)', async () => {
    for (const file of await configFiles()) {
      const entry = entryOf(file);
      if (!entry) continue; // the test above names it
      const config = JSON.parse(await fs.readFile(path.join(SCHEMAS_FOLDER, '..', file), 'utf8')) as { $schema?: string };
      expect({ file, $schema: config.$schema }).toEqual({ file, $schema: schemaReference(entry) });
      const schema = JSON.parse(await fs.readFile(path.join(SCHEMAS_FOLDER, `${entry.name}.schema.json`), 'utf8')) as object;
      const validate = new Ajv({ strict: false, allowUnionTypes: true }).compile(schema);
      expect({ file, errors: validate(config) ? [] : validate.errors }).toEqual({ file, errors: [] });
    }
  });
});
