import { clipToWidth, formatDuration, type Progress } from '@agekit/dataset';

/** Where the trainer's commands write: results to `out`, progress and diagnostics to `err`. */
export interface ProgressSink {
  err(line: string): void;
}

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

/** One progress printer per phase of a stage's `onProgress` ('decode train', 'train', ...). */
export function phasePrinter(io: ProgressSink): (p: Progress & { phase: string }) => void {
  const printers = new Map<string, (p: Progress) => void>();
  return (p) => {
    if (!printers.has(p.phase)) printers.set(p.phase, progressPrinter(io, p.phase));
    printers.get(p.phase)?.(p);
  };
}
