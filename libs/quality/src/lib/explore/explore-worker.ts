// The worker side of the explore pool, started by pool.ts through @agekit/dataset's worker-pool helper. Kept apart
// from pool.ts (which loads @agekit/dataset) so that a worker process loads only node-canvas and the decode/measure
// code (@agekit/dataset's sharp path only when a file needs it).
import { analyzeFile, type AnalyzeOptions, type AnalyzeOutcome } from './analyze';

export interface BatchMessage {
  type: 'batch';
  id: number;
  files: string[];
  options: AnalyzeOptions;
}

export interface ResultMessage {
  type: 'result';
  id: number;
  outcomes: AnalyzeOutcome[];
}

/** The worker side: measure batches sent by the parent until it disconnects (an app bundle re-exports it). */
export function runExploreWorker(): Promise<number> {
  return new Promise<number>(() => {
    const queue: BatchMessage[] = [];
    let busy = false;
    const drain = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      for (let message = queue.shift(); message; message = queue.shift()) {
        const outcomes: AnalyzeOutcome[] = [];
        for (const file of message.files) outcomes.push(await analyzeFile(file, { ...message.options, syncRead: true }));
        const reply: ResultMessage = { type: 'result', id: message.id, outcomes };
        process.send?.(reply);
      }
      busy = false;
    };
    process.on('message', (raw) => {
      const message = raw as BatchMessage;
      if (message.type !== 'batch') return;
      queue.push(message);
      void drain();
    });
    process.on('disconnect', () => process.exit(0));
  });
}
