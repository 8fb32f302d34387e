import { clipToWidth, formatDuration, type Progress } from '@agekit/dataset';

/** Where the trainer's commands write: results to `out`, progress and diagnostics to `err`. */
export interface ProgressSink {
  err(line: string): void;
}

/** A number with `digits` decimals, or 'n/a' when missing or not finite. */
export const fmt = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

/** Progress lines on stderr at most every `everyMs` (and always at the end). */
export function progressPrinter(io: ProgressSink, label: string, everyMs = 10_000): (p: Progress) => void {
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (p.done < p.total && now - last < everyMs) return;
    last = now;
    const line = `${label}: ${p.done}/${p.total} (${p.rate.toFixed(1)}/s, eta ${formatDuration(p.etaSeconds)})${p.failed ? `, ${p.failed} failed` : ''}`;
    io.err(clipToWidth(line, process.stderr.isTTY ? process.stderr.columns : undefined));
  };
}
