import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { CONFIG_SCHEMAS, renderSchema, SCHEMAS_FOLDER, schemaReference } from './config-schemas';

describe('configs/schemas', () => {
  it.each(CONFIG_SCHEMAS.map((e) => [e.name, e] as const))('%s.schema.json is what the code validates with (else: npx tsx tools/scripts/config-schemas.ts)', async (_name, entry) => {
    expect(await fs.readFile(path.join(SCHEMAS_FOLDER, `${entry.name}.schema.json`), 'utf8')).toBe(renderSchema(entry));
  });

  it.each(CONFIG_SCHEMAS.map((e) => [e.name, e] as const))('configs/%s.json names its schema', async (_name, entry) => {
    const config = JSON.parse(await fs.readFile(path.join(SCHEMAS_FOLDER, '..', `${entry.name}.json`), 'utf8')) as { $schema?: string };
    expect(config.$schema).toBe(schemaReference(entry));
    // what an editor does with it: the committed config is valid against the generated file
    const schema = JSON.parse(await fs.readFile(path.join(SCHEMAS_FOLDER, `${entry.name}.schema.json`), 'utf8')) as object;
    const validate = new Ajv({ strict: false, allowUnionTypes: true }).compile(schema);
    expect(validate(config) ? [] : validate.errors).toEqual([]);
  });

  it('every config in configs/ (but the Nx project) has a schema here', async () => {
    const configs = (await fs.readdir(path.join(SCHEMAS_FOLDER, '..'))).filter((f) => f.endsWith('.json') && f !== 'project.json');
    expect(configs.map((f) => f.replace(/\.json$/, '')).sort()).toEqual(CONFIG_SCHEMAS.map((e) => e.name).sort());
  });
});
