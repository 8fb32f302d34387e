#!/usr/bin/env node
/**
 * Regenerate a target distribution JSON (configs/distributions/*.json for your own, libs/resample/src/lib/distributions/*.json for the built-in ones) from an age,count CSV.
 * Usage: npx tsx tools/distributions/main.ts --csv FILE --out FILE [--name N] [--description D]
 *        [--source S] [--url U] [--licence L] [--reference-date YYYY-MM-DD] [--note TEXT]... [--open-ended-last]
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { DistributionProvenance } from '@agekit/resample';
import { distributionFromCsvText, formatDistributionJson, metaFor } from './build';

const usage = `distributions: write a target distribution JSON (counts + provenance) from an age,count or age_min,count CSV.
  --csv FILE             input CSV (required)
  --out FILE             output JSON (required)
  --name, --description  override the name/description
  --source, --url, --licence, --reference-date, --note (repeatable)
                         provenance (required for CSVs this tool does not know)
  --open-ended-last      the last age means "that age and over"`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        csv: { type: 'string' },
        out: { type: 'string' },
        name: { type: 'string' },
        description: { type: 'string' },
        source: { type: 'string' },
        url: { type: 'string' },
        licence: { type: 'string' },
        'reference-date': { type: 'string' },
        note: { type: 'string', multiple: true },
        'open-ended-last': { type: 'boolean' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (!values.csv || !values.out) {
    process.stderr.write(`--csv and --out are required\n\n${usage}\n`);
    return 2;
  }
  const provenance: Partial<DistributionProvenance> = {};
  if (values.source) provenance.source = values.source;
  if (values.url) provenance.url = values.url;
  if (values.licence) provenance.licence = values.licence;
  if (values['reference-date']) provenance.referenceDate = values['reference-date'];
  if (values.note) provenance.notes = values.note;
  try {
    const meta = metaFor(values.csv, {
      ...(values.name ? { name: values.name } : {}),
      ...(values.description ? { description: values.description } : {}),
      ...(values['open-ended-last'] !== undefined ? { openEndedLast: values['open-ended-last'] } : {}),
      provenance,
    });
    const text = await fs.readFile(values.csv, 'utf8');
    const file = distributionFromCsvText(text, values.csv, meta);
    // atomic: a temporary sibling renamed into place
    await fs.mkdir(path.dirname(path.resolve(values.out)), { recursive: true });
    const temp = `${values.out}.tmp-${process.pid}`;
    await fs.writeFile(temp, formatDistributionJson(file));
    await fs.rename(temp, values.out);
    process.stdout.write(`${values.out}: ${file.counts.length} rows, total ${file.total.toLocaleString('en')}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return 1;
  }
}

main().then((code) => {
  process.exitCode = code;
});
