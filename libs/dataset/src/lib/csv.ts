import { createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { stringify, Stringifier } from 'csv-stringify';
import { parse } from 'csv-parse';
import { discardWriteStream, temporaryPathFor } from './files';

export type CsvValue = string | number | boolean | null | undefined;
export type CsvRow = Record<string, CsvValue>;

/** A number cell as read from a CSV: empty, missing or not a finite number -> NaN (the contract's files write NaN as ''). */
export function numberCell(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return NaN;
  const n = Number(text);
  return Number.isFinite(n) ? n : NaN;
}

/**
 * Streaming CSV writer (csv-stringify) that writes to a temporary file and renames it into place on
 * close, so a reader never sees half a file. Numbers are written as given (no rounding);
 * booleans as 1/0; undefined/null as empty.
 */
export class CsvWriter {
  private readonly stringifier: Stringifier;
  private readonly done: Promise<void>;
  private readonly temp: string;
  private readonly out: WriteStream;
  private rows = 0;
  private failed: Error | undefined;

  private constructor(
    readonly file: string,
    readonly columns: readonly string[],
  ) {
    this.temp = temporaryPathFor(file);
    const out = createWriteStream(this.temp);
    this.out = out;
    this.stringifier = stringify({
      header: true,
      columns: columns.map((key) => ({ key })),
      cast: { boolean: (v) => (v ? '1' : '0') },
    });
    this.stringifier.pipe(out);
    this.done = new Promise<void>((resolve, reject) => {
      out.on('finish', () => resolve());
      out.on('error', reject);
      this.stringifier.on('error', reject);
    }).catch((error: Error) => {
      this.failed = error;
    });
  }

  static async open(file: string, columns: readonly string[]): Promise<CsvWriter> {
    await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
    return new CsvWriter(file, columns);
  }

  /** Write one row; resolves when the stream can take more (back-pressure). */
  async write(row: CsvRow): Promise<void> {
    if (this.failed) throw this.failed;
    this.rows++;
    if (!this.stringifier.write(row)) await once(this.stringifier, 'drain');
  }

  get rowCount(): number {
    return this.rows;
  }

  /** Finish the file and move it into place. */
  async close(): Promise<void> {
    this.stringifier.end();
    await this.done;
    if (this.failed) {
      await fs.rm(this.temp, { force: true });
      throw this.failed;
    }
    await fs.rename(this.temp, this.file);
  }

  /** Drop the temporary file without touching the destination. */
  async abort(): Promise<void> {
    this.stringifier.destroy();
    await discardWriteStream(this.out, this.temp);
  }
}

/** Write all rows to a CSV file atomically. Columns default to the keys of the first row. */
export async function writeCsv(file: string, rows: Iterable<CsvRow> | AsyncIterable<CsvRow>, columns?: readonly string[]): Promise<number> {
  let writer: CsvWriter | undefined;
  try {
    for await (const row of rows as AsyncIterable<CsvRow>) {
      if (!writer) {
        writer = await CsvWriter.open(file, columns ?? Object.keys(row));
      }
      await writer.write(row);
    }
    if (!writer) writer = await CsvWriter.open(file, columns ?? []);
    await writer.close();
    return writer.rowCount;
  } catch (error) {
    await writer?.abort();
    throw error;
  }
}

/** Read a CSV with a header row into objects of strings. */
export async function readCsv(file: string): Promise<Record<string, string>[]> {
  const text = await fs.readFile(file, 'utf8');
  return new Promise((resolve, reject) => {
    parse(text, { columns: true, skip_empty_lines: true, bom: true }, (error, records: Record<string, string>[]) => {
      if (error) reject(new Error(`${file}: not a valid CSV: ${error.message}`));
      else resolve(records);
    });
  });
}
