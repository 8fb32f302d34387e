/**
 * Writes configs/schemas/<name>.schema.json from the schemas the code validates each configs/<name>.json with, so
 * editors complete and check the configs (each config names its schema in "$schema").
 * Usage: npx tsx tools/scripts/config-schemas.ts [--check]   (--check: exit 1 when a file is stale, write nothing)
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, type Schema } from '@agekit/dataset';
import { enhanceConfigSchema } from '@agekit/enhance';
import { qualityConfigSchema } from '@agekit/quality';
import { resampleConfigSchema } from '@agekit/resample';
import { trainConfigSchema } from '@agekit/model';
import { transferConfigSchema } from '@agekit/transfer';
import { pipelineConfigSchema } from '../pipeline/config';

export interface ConfigSchemaEntry {
  /** configs/<name>.json, written to configs/schemas/<name>.schema.json. */
  name: string;
  title: string;
  schema: Schema;
}

export const CONFIG_SCHEMAS: readonly ConfigSchemaEntry[] = [
  { name: 'quality', title: 'agekit explore: quality thresholds (configs/quality.json)', schema: qualityConfigSchema },
  { name: 'enhance', title: 'agekit process: corrections (configs/enhance.json)', schema: enhanceConfigSchema },
  { name: 'resample', title: 'agekit resample: split and target distribution (configs/resample.json)', schema: resampleConfigSchema },
  { name: 'train', title: 'agekit-trainer train (configs/train.json)', schema: trainConfigSchema },
  { name: 'transfer', title: 'agekit-trainer transfer (configs/transfer.json)', schema: transferConfigSchema },
  { name: 'pipeline', title: 'the Nx pipeline: dataset, output root, seed (configs/pipeline.json)', schema: pipelineConfigSchema },
];

const root = path.resolve(__dirname, '..', '..');
export const SCHEMAS_FOLDER = path.join(root, 'configs', 'schemas');

/** The "$schema" value a config names: its schema file relative to configs/. */
export function schemaReference(entry: ConfigSchemaEntry): string {
  return `./schemas/${entry.name}.schema.json`;
}

/** The text of configs/schemas/<name>.schema.json. */
export function renderSchema(entry: ConfigSchemaEntry): string {
  const document = { $schema: 'http://json-schema.org/draft-07/schema#', title: entry.title, ...(entry.schema as object) };
  return `${JSON.stringify(document, null, 2)}\n`;
}

async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const entry of CONFIG_SCHEMAS) {
    const file = path.join(SCHEMAS_FOLDER, `${entry.name}.schema.json`);
    const text = renderSchema(entry);
    const current = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (current === text) continue;
    stale++;
    if (check) process.stderr.write(`stale: ${path.relative(root, file)} (run npx tsx tools/scripts/config-schemas.ts)\n`);
    else await writeFileAtomic(file, text);
  }
  if (!check) process.stdout.write(`config-schemas: ${stale} of ${CONFIG_SCHEMAS.length} schema files written to ${path.relative(root, SCHEMAS_FOLDER)}\n`);
  return check && stale > 0 ? 1 : 0;
}

if (require.main === module) {
  main().then((code) => {
    process.exitCode = code;
  });
}
