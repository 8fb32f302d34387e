import * as path from 'node:path';
import { buildDistributionFile, parseAgeCountCsv, type DistributionFile, type DistributionProvenance } from '@agekit/resample';

export interface DistributionMeta {
  name: string;
  description: string;
  provenance: DistributionProvenance;
  /** The last age row means "this age and over". */
  openEndedLast?: boolean;
}

/** Provenance of the CSVs this project knows, by file name without extension. */
export const KNOWN_SOURCES: Record<string, DistributionMeta> = {
  'australia-erp-2021': {
    name: 'australia-erp-2021',
    description: 'Australia, Estimated Resident Population at 30 June 2021, persons by single year of age (0-99, then 100 and over)',
    provenance: {
      source: 'Australian Bureau of Statistics, 3101.0 National, state and territory population, Table 59 (3101059.xlsx), 2025 release',
      url: 'https://www.abs.gov.au/statistics/people/population/national-state-and-territory-population',
      licence: 'CC BY 4.0 (Australian Bureau of Statistics)',
      referenceDate: '2021-06-30',
      notes: ['Age 100 means 100 years and over.', 'Total 25,685,412 persons.', 'Regenerate: npx tsx tools/distributions/main.ts --csv australia-erp-2021.csv --out libs/resample/src/lib/distributions/australia-erp-2021.json'],
    },
    openEndedLast: true,
  },
};

/** The meta for a CSV: a known source by its base name, overridden field by field. */
export function metaFor(csvFile: string, overrides: Omit<Partial<DistributionMeta>, 'provenance'> & { provenance?: Partial<DistributionProvenance> } = {}): DistributionMeta {
  const base = path.basename(csvFile).replace(/\.csv$/i, '');
  const known = KNOWN_SOURCES[base];
  const provenance = { ...(known?.provenance ?? { source: '' }), ...(overrides.provenance ?? {}) } as DistributionProvenance;
  if (!provenance.source) throw new Error(`${csvFile}: unknown source; give its provenance with --source (and --licence, --url)`);
  return {
    name: overrides.name ?? known?.name ?? base,
    description: overrides.description ?? known?.description ?? `Age distribution from ${path.basename(csvFile)}`,
    provenance,
    openEndedLast: overrides.openEndedLast ?? known?.openEndedLast ?? false,
  };
}

/** Build the distribution JSON object from CSV text. */
export function distributionFromCsvText(text: string, csvName: string, meta: DistributionMeta): DistributionFile {
  const parsed = parseAgeCountCsv(text, csvName, { openEndedLast: meta.openEndedLast });
  return buildDistributionFile(parsed, meta);
}

/** Stable, diff-friendly JSON: one count row per line. */
export function formatDistributionJson(file: DistributionFile): string {
  const { counts, ...head } = file;
  const headText = JSON.stringify(head, null, 2).replace(/\n}$/, '');
  const rows = counts.map((r) => `    ${JSON.stringify(r).replace(/,/g, ', ').replace(/:/g, ': ')}`).join(',\n');
  return `${headText},\n  "counts": [\n${rows}\n  ]\n}\n`;
}
