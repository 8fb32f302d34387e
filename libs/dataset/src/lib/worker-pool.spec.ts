import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveWorkerEntry, startWorkerProcess, startWorkerThread, type WorkerEntry } from './worker-pool';

jest.setTimeout(60_000);

// A worker module in JavaScript (what tsc emits) and in TypeScript (what tsx runs): each answers a thread's
// workerData or a process's first message with its own kind and the value doubled.
const JS_WORKER = `
const { parentPort, workerData, isMainThread } = require('node:worker_threads');
exports.runEcho = function () {
  if (!isMainThread) parentPort.postMessage({ kind: 'js', value: workerData.data * 2 });
  else process.on('message', (m) => { process.send({ kind: 'js', value: m * 2 }); process.disconnect(); });
};
`;
const TS_WORKER = `
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
const double = (x: number): number => x * 2;
export function runEcho(): void {
  if (!isMainThread) parentPort?.postMessage({ kind: 'ts', value: double(workerData.data as number) });
  else process.on('message', (m: number) => { process.send?.({ kind: 'ts', value: double(m) }); process.disconnect(); });
}
`;

describe('worker-pool', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-worker-pool-'));
    await fs.mkdir(path.join(tmp, 'js'));
    await fs.mkdir(path.join(tmp, 'ts'));
    await fs.writeFile(path.join(tmp, 'js', 'echo-worker.js'), JS_WORKER);
    await fs.writeFile(path.join(tmp, 'ts', 'echo-worker.ts'), TS_WORKER);
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const entryFrom = (kind: 'js' | 'ts'): WorkerEntry => {
    const entry = resolveWorkerEntry({ from: path.join(tmp, kind, `caller.${kind}`), module: 'echo-worker', start: 'runEcho' });
    if (!entry) throw new Error(`no ${kind} worker entry`);
    return entry;
  };

  it('finds the module beside the caller with the caller extension; TypeScript gets the tsx hook', () => {
    expect(entryFrom('js')).toEqual({ module: path.join(tmp, 'js', 'echo-worker.js'), start: 'runEcho' });
    const ts = entryFrom('ts');
    expect(ts.module).toBe(path.join(tmp, 'ts', 'echo-worker.ts'));
    expect(ts.register).toMatch(/tsx/);
    // a .js caller with only a .ts worker beside it (or none at all) has no worker: the caller runs in-process
    expect(resolveWorkerEntry({ from: path.join(tmp, 'ts', 'caller.js'), module: 'echo-worker', start: 'runEcho' })).toBeUndefined();
    expect(resolveWorkerEntry({ from: path.join(tmp, 'js', 'caller.js'), module: 'no-such-worker', start: 'runNothing' })).toBeUndefined();
  });

  it.each(['js', 'ts'] as const)('a %s worker runs in a thread', async (kind) => {
    const worker = startWorkerThread(entryFrom(kind), 21);
    const [message] = await once(worker, 'message');
    expect(message).toEqual({ kind, value: 42 });
    await worker.terminate();
  });

  it.each(['js', 'ts'] as const)('a %s worker runs in a child process over IPC', async (kind) => {
    const child = startWorkerProcess(entryFrom(kind));
    child.send(5);
    const [message] = await once(child, 'message');
    expect(message).toEqual({ kind, value: 10 });
    expect(await once(child, 'exit')).toEqual([0, null]);
  });

  it('a module without the start function fails the worker with a message naming both', async () => {
    const entry: WorkerEntry = { ...entryFrom('js'), start: 'runMissing' };
    const worker = startWorkerThread(entry);
    const [error] = await once(worker, 'error');
    expect(String(error)).toMatch(/echo-worker\.js does not export runMissing/);
    const child = startWorkerProcess(entry, { stderr: 'ignore' });
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
  });
});
