import { createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';
import { discardWriteStream, temporaryPathFor } from './files';

/**
 * CSV text built as strings (explore's metadata.csv: tens of thousands of rows): the same bytes @agekit/dataset's CsvWriter
 * (csv-stringify 6 with its default options, booleans as 1/0) writes for the same rows, without a
 * stream transform and a cast per field. Pinned against CsvWriter in csv-text.spec.ts.
 */

/** One field: undefined/null -> empty; numbers as String(n); booleans 1/0; strings quoted when they hold `"`, `,`, `\n` or `\r` (`"` doubled). */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  const text = typeof value === 'string' ? value : typeof value === 'bigint' ? String(value) : JSON.stringify(value);
  if (text === '') return '';
  if (text.includes('"')) return `"${text.replaceAll('"', '""')}"`;
  if (text.includes(',') || text.includes('\n') || text.includes('\r')) return `"${text}"`;
  return text;
}

/** A line of fields (without the line end), as one flat string (join, not a chain of concatenations: rows are kept until written). */
export function csvLine(values: readonly unknown[]): string {
  const fields: string[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) fields[i] = csvField(values[i]);
  return fields.join(',');
}

/** Bytes per chunk of CsvTextWriter.writeLines. */
const LINES_CHUNK = 1 << 20;

/**
 * Bytes the file stream may hold before a write waits for it to drain: a writer does not wait for each chunk to reach
 * the file system (it encodes the next meanwhile), and a slow disk still holds back a large file.
 */
const BUFFERED_LIMIT = 8 << 20;

/**
 * A CSV file written atomically (a temporary sibling renamed into place on close), line by line with
 * back-pressure: the header is written on open, every line ends with '\n'.
 */
export class CsvTextWriter {
  private pending = '';
  private failed: Error | undefined;

  private constructor(
    readonly file: string,
    private readonly temp: string,
    private readonly out: WriteStream,
  ) {
    out.on('error', (error) => {
      this.failed ??= error;
    });
  }

  static async open(file: string, columns: readonly string[]): Promise<CsvTextWriter> {
    await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
    const temp = temporaryPathFor(file);
    const writer = new CsvTextWriter(file, temp, createWriteStream(temp, { highWaterMark: BUFFERED_LIMIT }));
    writer.pending = `${csvLine(columns)}\n`;
    return writer;
  }

  /** Add one line (fields already formatted with csvField / csvLine); flushes in chunks of ~64 KiB. */
  async writeLine(line: string): Promise<void> {
    this.pending += `${line}\n`;
    if (this.pending.length >= 65536) await this.flush();
  }

  /**
   * Add many lines (each as writeLine takes it), encoded straight into ~1 MiB chunks of bytes: the same bytes as a
   * writeLine each, without building a string per chunk (metadata.csv: 7 MB in tens of thousands of lines, written at
   * the end of a stage while a core idles; the file system takes a chunk while the next is encoded).
   */
  async writeLines(lines: Iterable<string>): Promise<void> {
    await this.flush();
    let chunk = Buffer.allocUnsafe(LINES_CHUNK);
    let used = 0;
    for (const line of lines) {
      // UTF-8 takes at most 3 bytes per UTF-16 unit; then the line end
      const most = 3 * line.length + 1;
      if (used + most > chunk.length) {
        await this.send(chunk.subarray(0, used));
        chunk = Buffer.allocUnsafe(Math.max(LINES_CHUNK, most));
        used = 0;
      }
      used += chunk.write(line, used);
      chunk[used++] = 0x0a;
    }
    await this.send(chunk.subarray(0, used));
  }

  private async flush(): Promise<void> {
    const text = this.pending;
    this.pending = '';
    await this.send(text);
  }

  /** Hand data to the file stream; waits only while the stream holds more than BUFFERED_LIMIT bytes. */
  private async send(data: string | Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    if (data.length > 0 && !this.out.write(data)) {
      // the listener that loses the race is removed (a listener per flush would pile up on a long file)
      const settled = new AbortController();
      try {
        await Promise.race([once(this.out, 'drain', { signal: settled.signal }), once(this.out, 'error', { signal: settled.signal })]);
      } finally {
        settled.abort();
      }
    }
    if (this.failed) throw this.failed;
  }

  /** Finish the file and move it into place. */
  async close(): Promise<void> {
    try {
      await this.flush();
      this.out.end();
      await Promise.race([once(this.out, 'finish'), once(this.out, 'error')]);
      if (this.failed) throw this.failed;
    } catch (error) {
      await this.abort();
      throw error;
    }
    await fs.rename(this.temp, this.file);
  }

  /** Drop the temporary file without touching the destination. */
  async abort(): Promise<void> {
    await discardWriteStream(this.out, this.temp);
  }
}
