import { promises as fs } from 'node:fs';
import Ajv, { ErrorObject, JSONSchemaType, Schema } from 'ajv';
import { ConfigError } from './errors';

export type { JSONSchemaType, Schema };

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });

function describe(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') {
    return `unknown field '${(error.params as { additionalProperty: string }).additionalProperty}'`;
  }
  if (error.keyword === 'required') return `missing required field '${(error.params as { missingProperty: string }).missingProperty}'`;
  if (error.keyword === 'enum') return `${error.message}: ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return error.message ?? error.keyword;
}

/**
 * Validate a parsed value against a JSON schema (defaults from the schema are filled in).
 * Throws ConfigError naming `file` and the JSON pointer of the first bad field.
 */
export function validateConfig<T>(value: unknown, schema: Schema | JSONSchemaType<T>, file = '<config>'): T {
  const validate = ajv.compile<T>(schema);
  if (!validate(value)) {
    const errors = validate.errors ?? [];
    const first = errors[0];
    const field = first ? first.instancePath || '/' : '';
    const detail = errors.map((e) => `${e.instancePath || '/'} ${describe(e)}`).join('; ');
    throw new ConfigError(file, field, detail);
  }
  return value;
}

/** Read a JSON config file and validate it; errors name the file and the field. */
export async function loadConfig<T>(file: string, schema: Schema | JSONSchemaType<T>): Promise<T> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, '', `cannot read config: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, '', `not valid JSON: ${(error as Error).message}`);
  }
  return validateConfig<T>(value, schema, file);
}
