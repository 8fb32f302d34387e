import { clipToWidth, formatDuration, type Progress } from '@agekit/dataset';

/**
 * Where a command talks to people. Progress goes to stderr: a redrawn bar on a TTY, plain lines
 * every few seconds otherwise (CI logs). Results go to stdout (JSON with --json).
 */
export class Terminal {
  private lastLine = 0;
  private barShown = false;

  constructor(
    readonly json = false,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
    private readonly plainIntervalMs = 5000,
  ) {}

  get isTTY(): boolean {
    return Boolean(this.stderr.isTTY);
  }

  /** A human line on stdout (suppressed under --json, which keeps stdout machine-readable). */
  info(line: string): void {
    this.clearBar();
    if (this.json) this.stderr.write(`${line}\n`);
    else this.stdout.write(`${line}\n`);
  }

  warn(line: string): void {
    this.clearBar();
    this.stderr.write(`warning: ${line}\n`);
  }

  error(line: string): void {
    this.clearBar();
    this.stderr.write(`error: ${line}\n`);
  }

  /** Print the machine-readable result (only under --json). */
  result(value: unknown): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A progress callback for a labelled loop. */
  progress(label: string): (p: Progress) => void {
    return (p) => {
      const pct = p.total > 0 ? (100 * p.done) / p.total : 100;
      const tail = `${p.done}/${p.total} ${p.rate.toFixed(p.rate < 10 ? 1 : 0)}/s ETA ${formatDuration(p.etaSeconds)}${p.failed ? ` failed ${p.failed}` : ''}`;
      if (this.isTTY) {
        const width = 30;
        const filled = Math.round((width * pct) / 100);
        const bar = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct.toFixed(0).padStart(3)}% ${tail}`;
        // a line wider than the terminal would wrap, and the \r redraw would then stack copies
        this.stderr.write(`\r${clipToWidth(bar, this.stderr.columns)}\x1b[K`);
        this.barShown = true;
        if (p.done === p.total) this.clearBar(true);
      } else {
        const now = Date.now();
        if (now - this.lastLine >= this.plainIntervalMs || p.done === p.total) {
          this.lastLine = now;
          this.stderr.write(`${label}: ${pct.toFixed(1)}% ${tail}\n`);
        }
      }
    };
  }

  private clearBar(keep = false): void {
    if (!this.barShown) return;
    this.stderr.write(keep ? '\n' : '\r\x1b[K');
    this.barShown = false;
  }
}

/** Rows as aligned columns, the first left-aligned and the others right-aligned; a column is as wide as its widest cell unless `widths` says. */
export function formatTable(rows: string[][], options: { widths?: number[]; gap?: string } = {}): string[] {
  const widths = options.widths ?? rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(options.gap ?? '  '));
}
