import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describeError, ProgressTracker, type DatasetRecord, type ProgressCallback } from '@agekit/dataset';
import { qualityGuard, type CandidateGrid } from '@agekit/enhance';
import type { QualityThresholds } from '@agekit/quality';
import { processRecords, type ProcessingRow, type ProcessOptions } from './run';

/** Everything a worker needs, as plain data (structured-clone safe). */
export interface ProcessJob {
  records: DatasetRecord[];
  metadata: Array<[string, Record<string, string>]>;
  processedDir: string;
  thresholds: QualityThresholds;
  candidates: CandidateGrid;
  beamWidth: number;
  jpegQuality: number;
  maxPixels?: number;
  /** Images in flight per thread (sharp's work overlaps the JavaScript). */
  concurrency: number;
}

export type WorkerRequest = { index: number } | { stop: true };
export type WorkerReply = { index: number; row: ProcessingRow } | { index: number; error: string };

export function optionsOf(job: ProcessJob, onProgress?: ProgressCallback): ProcessOptions {
  return {
    dataset: { root: '', layout: 'folder-per-label', records: job.records, problems: [] },
    metadata: new Map(job.metadata),
    processedDir: job.processedDir,
    guard: qualityGuard(job.thresholds),
    candidates: job.candidates,
    beamWidth: job.beamWidth,
    jpegQuality: job.jpegQuality,
    concurrency: job.concurrency,
    maxPixels: job.maxPixels,
    onProgress,
  };
}

/**
 * How a worker thread is started: from TypeScript sources (tsx) the worker registers tsx's loader
 * and loads worker.ts. A bundled build has no worker file: undefined there (run in-process).
 */
function workerSource(): string | undefined {
  const file = path.join(__dirname, 'worker.ts');
  if (!__filename.endsWith('.ts') || !existsSync(file)) return undefined;
  let api: string;
  try {
    api = require.resolve('tsx/cjs/api');
  } catch {
    return undefined;
  }
  return `require(${JSON.stringify(api)}).register(); require(${JSON.stringify(file)});`;
}

/**
 * Process every record on `threads` worker threads (each with `job.concurrency` images in flight),
 * or in this thread when threads <= 1 or workers are unavailable. Rows come back in record order;
 * the output does not depend on the number of threads.
 */
export async function processJob(job: ProcessJob, threads: number, onProgress?: ProgressCallback): Promise<{ rows: ProcessingRow[]; threads: number }> {
  const source = threads > 1 ? workerSource() : undefined;
  if (!source) return { rows: await processRecords(optionsOf(job, onProgress)), threads: 1 };
  const rows: ProcessingRow[] = new Array(job.records.length);
  const tracker = new ProgressTracker(job.records.length, onProgress);
  let next = 0;
  const count = Math.min(threads, Math.max(1, job.records.length));
  await Promise.all(
    Array.from({ length: count }, () => {
      const worker = new Worker(source, { eval: true, workerData: job });
      return new Promise<void>((resolve, reject) => {
        let inFlight = 0;
        const feed = (): void => {
          while (inFlight < job.concurrency && next < job.records.length) {
            worker.postMessage({ index: next++ } satisfies WorkerRequest);
            inFlight++;
          }
          if (inFlight === 0) {
            void worker.terminate().then(() => resolve());
          }
        };
        worker.on('message', (reply: WorkerReply) => {
          inFlight--;
          if ('row' in reply) {
            rows[reply.index] = reply.row;
            tracker.tick(reply.row.status !== 'error');
          } else {
            const record = job.records[reply.index];
            rows[reply.index] = { id: record.id, status: 'error', flagsBefore: [], flagsAfter: [], operations: '', error: reply.error };
            tracker.tick(false);
          }
          feed();
        });
        worker.on('error', (error) => reject(new Error(`process worker failed: ${describeError(error)}`)));
        worker.on('online', feed);
      });
    }),
  );
  return { rows, threads: count };
}
