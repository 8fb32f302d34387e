// Worker thread of `agekit process` (started by pool.ts): processes the records it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { describeError } from '@agekit/dataset';
import { optionsOf, type ProcessJob, type WorkerReply, type WorkerRequest } from './pool';
import { processRecord } from './run';

const job = workerData as ProcessJob;
const options = optionsOf(job);
const port = parentPort;
if (port) {
  port.on('message', (request: WorkerRequest) => {
    if (!('index' in request)) return;
    const { index } = request;
    processRecord(job.records[index], options).then(
      (row) => port.postMessage({ index, row } satisfies WorkerReply),
      (error: unknown) => port.postMessage({ index, error: describeError(error) } satisfies WorkerReply),
    );
  });
}
