import { parse } from 'csv-parse/sync';
import { validateConfig } from '@agekit/dataset';
import { DistributionError } from './errors';

/** A count of people (or images) over an inclusive range of whole years. */
export interface AgeCountRow {
  minAge: number;
  /** Inclusive. Equal to minAge for a single year (and for an open-ended last row such as "100 and over"). */
  maxAge: number;
  count: number;
}

/** Where a distribution's numbers come from. */
export interface DistributionProvenance {
  /** Publisher and table, e.g. "Australian Bureau of Statistics, 3101.0 Table 59". */
  source: string;
  /** Web page or file the numbers were taken from. */
  url?: string;
  licence?: string;
  /** Reference date of the figures, e.g. "2021-06-30". */
  referenceDate?: string;
  /** Anything a reader must know (open-ended rows, rounding, ...). */
  notes?: string[];
}

/**
 * The JSON form of a population distribution (configs/distributions/*.json): raw counts with their
 * provenance. Restricting to a dataset's age range and renormalising happens when it is used.
 */
export interface DistributionFile {
  name: string;
  description: string;
  provenance: DistributionProvenance;
  /** Sum of all counts. */
  total: number;
  /** The age of an open-ended last row ("100 = 100 and over"), if any. */
  openEndedFrom?: number;
  counts: AgeCountRow[];
}

/** One class of a target: a single year (label "25") or a bin (label "20-24"). */
export interface AgeClass {
  label: string;
  minAge: number;
  /** Inclusive. */
  maxAge: number;
}

/** A target distribution over age classes; shares sum to 1. */
export interface TargetDistribution {
  name: string;
  classes: AgeClass[];
  shares: number[];
  provenance?: DistributionProvenance;
}

export interface AgeRangeOptions {
  /** Youngest age kept (default 20). */
  minAge?: number;
  /** Oldest age kept, inclusive (default 50). */
  maxAge?: number;
  /** Years per class (default 1: single-year ages). The last bin may be shorter. */
  binWidth?: number;
}

export const DEFAULT_AGE_RANGE = { minAge: 20, maxAge: 50 } as const;

/** JSON schema of a DistributionFile (for apps that load configs/distributions/*.json). */
export const distributionFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description', 'provenance', 'total', 'counts'],
  properties: {
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    provenance: {
      type: 'object',
      additionalProperties: false,
      required: ['source'],
      properties: {
        source: { type: 'string', minLength: 1 },
        url: { type: 'string' },
        licence: { type: 'string' },
        referenceDate: { type: 'string' },
        notes: { type: 'array', items: { type: 'string' } },
      },
    },
    total: { type: 'number', minimum: 0 },
    openEndedFrom: { type: 'integer', minimum: 0 },
    counts: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['minAge', 'maxAge', 'count'],
        properties: {
          minAge: { type: 'integer', minimum: 0 },
          maxAge: { type: 'integer', minimum: 0 },
          count: { type: 'number', minimum: 0 },
        },
      },
    },
  },
} as const;

export function classLabel(minAge: number, maxAge: number): string {
  return minAge === maxAge ? String(minAge) : `${minAge}-${maxAge}`;
}

function checkRange(options: AgeRangeOptions, source: string): { minAge: number; maxAge: number; binWidth: number } {
  const minAge = options.minAge ?? DEFAULT_AGE_RANGE.minAge;
  const maxAge = options.maxAge ?? DEFAULT_AGE_RANGE.maxAge;
  const binWidth = options.binWidth ?? 1;
  if (!Number.isInteger(minAge) || !Number.isInteger(maxAge) || minAge < 0 || maxAge < minAge) {
    throw new DistributionError(source, `bad age range ${minAge}..${maxAge} (whole years, min <= max)`);
  }
  if (!Number.isInteger(binWidth) || binWidth < 1) throw new DistributionError(source, `bin width must be a positive whole number (got ${binWidth})`);
  return { minAge, maxAge, binWidth };
}

/** The classes (single years or bins of `binWidth` years) covering minAge..maxAge. */
export function ageClasses(options: AgeRangeOptions = {}): AgeClass[] {
  const { minAge, maxAge, binWidth } = checkRange(options, 'age classes');
  const classes: AgeClass[] = [];
  for (let lo = minAge; lo <= maxAge; lo += binWidth) {
    const hi = Math.min(maxAge, lo + binWidth - 1);
    classes.push({ label: classLabel(lo, hi), minAge: lo, maxAge: hi });
  }
  return classes;
}

/** The class holding `age`, or undefined when the age is outside every class. */
export function classOfAge(classes: readonly AgeClass[], age: number): AgeClass | undefined {
  for (const c of classes) if (age >= c.minAge && age <= c.maxAge) return c;
  return undefined;
}

/**
 * Restrict counts to minAge..maxAge, group them into classes and renormalise to shares.
 * A row spanning several years (a 5-year census group) is spread evenly over its years.
 * Every year of the range must be covered by some row; otherwise the error names the missing ages.
 */
export function distributionFromCounts(
  rows: readonly AgeCountRow[],
  options: AgeRangeOptions & { name: string; provenance?: DistributionProvenance; openEndedFrom?: number },
): TargetDistribution {
  const { minAge, maxAge } = checkRange(options, options.name);
  const perYear = new Map<number, number>();
  for (const row of rows) {
    if (!(row.count >= 0) || !Number.isFinite(row.count)) throw new DistributionError(options.name, `bad count ${row.count} for ages ${row.minAge}-${row.maxAge}`);
    const years = row.maxAge - row.minAge + 1;
    for (let a = row.minAge; a <= row.maxAge; a++) perYear.set(a, (perYear.get(a) ?? 0) + row.count / years);
  }
  const missing: number[] = [];
  for (let a = minAge; a <= maxAge; a++) if (!perYear.has(a)) missing.push(a);
  if (options.openEndedFrom !== undefined && maxAge > options.openEndedFrom) {
    throw new DistributionError(options.name, `age ${options.openEndedFrom} means "${options.openEndedFrom} and over": the range cannot go past it (max ${maxAge})`);
  }
  if (missing.length > 0) throw new DistributionError(options.name, `no count for ${missing.length === 1 ? 'age' : 'ages'} ${compactAges(missing)}`);
  const classes = ageClasses(options);
  const weights = classes.map((c) => {
    let s = 0;
    for (let a = c.minAge; a <= c.maxAge; a++) s += perYear.get(a) ?? 0;
    return s;
  });
  const total = weights.reduce((s, w) => s + w, 0);
  if (!(total > 0)) throw new DistributionError(options.name, `all counts in ${minAge}..${maxAge} are zero`);
  return { name: options.name, classes, shares: weights.map((w) => w / total), provenance: options.provenance };
}

/** Equal share for every year of the range (a bin's share is proportional to its years). */
export function uniformDistribution(options: AgeRangeOptions = {}): TargetDistribution {
  const { minAge, maxAge } = checkRange(options, 'uniform');
  const rows: AgeCountRow[] = [];
  for (let a = minAge; a <= maxAge; a++) rows.push({ minAge: a, maxAge: a, count: 1 });
  return distributionFromCounts(rows, { ...options, name: 'uniform' });
}

/** A target from a DistributionFile (configs/distributions/*.json), restricted and renormalised. */
export function distributionFromFile(file: DistributionFile, options: AgeRangeOptions = {}): TargetDistribution {
  return distributionFromCounts(file.counts, { ...options, name: file.name, provenance: file.provenance, openEndedFrom: file.openEndedFrom });
}

/** "20-23, 25, 27-30" */
export function compactAges(ages: readonly number[]): string {
  const sorted = [...new Set(ages)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : String(sorted[i]));
    i = j + 1;
  }
  return parts.join(', ');
}

export interface ParsedAgeCounts {
  rows: AgeCountRow[];
  /** The age of the last row when it is open-ended ("100" = 100 and over, or "100+"). */
  openEndedFrom?: number;
}

/**
 * Parse an age CSV: `age,count` (single years; an age written "100+" or the last age given as
 * `openEndedLast` is open-ended) or `age_min,count` (each row runs to the next row's age_min - 1;
 * the last row is open-ended). Rows must be in ascending age order. Errors name the source and line.
 */
export function parseAgeCountCsv(text: string, source = '<csv>', options: { openEndedLast?: boolean } = {}): ParsedAgeCounts {
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (error) {
    throw new DistributionError(source, `not a valid CSV: ${(error as Error).message}`);
  }
  if (records.length === 0) throw new DistributionError(source, 'no rows');
  const columns = Object.keys(records[0]);
  const ageCol = ['age', 'age_min'].find((c) => columns.includes(c));
  const countCol = ['count', 'population', 'persons', 'n'].find((c) => columns.includes(c));
  if (!ageCol || !countCol) {
    throw new DistributionError(source, `expected columns age,count or age_min,count (found ${columns.join(', ')})`);
  }
  const parsed: Array<{ age: number; count: number; plus: boolean }> = [];
  records.forEach((row, index) => {
    const line = index + 2;
    const rawAge = row[ageCol] ?? '';
    const plus = rawAge.endsWith('+');
    const age = Number(plus ? rawAge.slice(0, -1) : rawAge);
    const count = Number((row[countCol] ?? '').replace(/,/g, ''));
    if (!Number.isInteger(age) || age < 0) throw new DistributionError(source, `line ${line}: bad ${ageCol} '${rawAge}'`);
    if (!Number.isFinite(count) || count < 0 || row[countCol] === '') throw new DistributionError(source, `line ${line}: bad ${countCol} '${row[countCol]}'`);
    if (parsed.length > 0 && age <= parsed[parsed.length - 1].age) {
      throw new DistributionError(source, `line ${line}: ages must ascend (${age} after ${parsed[parsed.length - 1].age})`);
    }
    if (plus && index !== records.length - 1) throw new DistributionError(source, `line ${line}: only the last row can be open-ended ('${rawAge}')`);
    parsed.push({ age, count, plus });
  });
  const rows: AgeCountRow[] = [];
  let openEndedFrom: number | undefined;
  for (let i = 0; i < parsed.length; i++) {
    const { age, count, plus } = parsed[i];
    const last = i === parsed.length - 1;
    if (ageCol === 'age_min' && !last) {
      rows.push({ minAge: age, maxAge: parsed[i + 1].age - 1, count });
    } else {
      if (!last && ageCol === 'age' && parsed[i + 1].age !== age + 1) {
        throw new DistributionError(source, `line ${i + 3}: single-year ages must be consecutive (${parsed[i + 1].age} after ${age}); use age_min for groups`);
      }
      rows.push({ minAge: age, maxAge: age, count });
      if (last && (plus || ageCol === 'age_min' || options.openEndedLast)) openEndedFrom = age;
    }
  }
  return { rows, openEndedFrom };
}

/** Build the JSON file form of a distribution from parsed counts and their provenance. */
export function buildDistributionFile(
  parsed: ParsedAgeCounts,
  meta: { name: string; description: string; provenance: DistributionProvenance },
): DistributionFile {
  const total = parsed.rows.reduce((s, r) => s + r.count, 0);
  return {
    name: meta.name,
    description: meta.description,
    provenance: meta.provenance,
    total,
    ...(parsed.openEndedFrom !== undefined ? { openEndedFrom: parsed.openEndedFrom } : {}),
    counts: parsed.rows,
  };
}

/** Parse and check the JSON text of a DistributionFile (schema, counts in ascending non-overlapping ranges, total). */
export function parseDistributionFile(text: string, source = '<distribution>'): DistributionFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DistributionError(source, `not valid JSON: ${(error as Error).message}`);
  }
  const file = validateConfig<DistributionFile>(value, distributionFileSchema, source);
  file.counts.forEach((row, i) => {
    if (row.maxAge < row.minAge) throw new DistributionError(source, `counts[${i}]: maxAge ${row.maxAge} < minAge ${row.minAge}`);
    if (i > 0 && row.minAge <= file.counts[i - 1].maxAge) throw new DistributionError(source, `counts[${i}]: ages overlap or are not ascending`);
  });
  const total = file.counts.reduce((s, r) => s + r.count, 0);
  if (Math.abs(total - file.total) > 1e-6 * Math.max(1, total)) throw new DistributionError(source, `total ${file.total} is not the sum of the counts (${total})`);
  return file;
}
