/** The worker-thread side of processDataset: each thread processes the record indices it is sent. */
import { serveThreadTasks } from '@agekit/dataset';
import { processContext, processRecord, type ProcessJob } from './process-record';

/** Serve one thread of processDataset (started through @agekit/dataset's runThreadTasks with the job as data). */
export function runProcessDatasetWorker(job: ProcessJob): void {
  const context = processContext(job);
  serveThreadTasks((index) => processRecord(job.records[index], context));
}
