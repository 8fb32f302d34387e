import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Starting a library's worker (a thread or a child process) the same way however the library runs: from
 * TypeScript sources (tsx, jest), compiled by tsc (a dist folder), or inlined in an esbuild bundle. The worker
 * is a module that exports a start function; a small bootstrap, given as code (no file of its own to find),
 * registers tsx's CommonJS hook when the module is TypeScript, requires the module and calls that function.
 */

/** The module a worker loads and the function it calls there. */
export interface WorkerEntry {
  /** Absolute path of the module (.ts, .js, or the bundle that inlines it). */
  module: string;
  /** Name of the exported function that runs the worker (it reads its own messages). */
  start: string;
  /** Module to require first: tsx's CommonJS hook for a TypeScript module, else undefined. */
  register?: string;
}

export interface WorkerEntryOptions {
  /** The calling module's __filename: its extension says whether the worker beside it is .ts or .js. */
  from: string;
  /** The worker module's base name beside `from` (no extension), e.g. 'explore-worker'. */
  module: string;
  /** The function the worker module exports to run the worker. */
  start: string;
}

/**
 * Where a worker's module is: `<module>.ts` (sources) or `.js` (tsc output) beside `from`; in a bundle (no such
 * file) the main module itself when it exports `start` (an app re-exports the library's start function and runs
 * its own main only when `require.main === module`, which a worker's bootstrap never is). Undefined when there is
 * none (run in-process then); also when the module is TypeScript and tsx cannot be loaded.
 */
export function resolveWorkerEntry(options: WorkerEntryOptions): WorkerEntry | undefined {
  const typescript = path.extname(options.from) === '.ts';
  const file = path.join(path.dirname(options.from), `${options.module}${typescript ? '.ts' : '.js'}`);
  if (existsSync(file)) {
    if (!typescript) return { module: file, start: options.start };
    const register = tsxHook();
    return register ? { module: file, start: options.start, register } : undefined;
  }
  const main = require.main;
  if (main && typeof (main.exports as Record<string, unknown>)[options.start] === 'function') return { module: main.filename, start: options.start };
  return undefined;
}

/** tsx's CommonJS hook, when tsx is installed (a development tool: the name is computed so that bundlers leave it out). */
function tsxHook(): string | undefined {
  try {
    return require.resolve(['tsx', 'cjs'].join('/'));
  } catch {
    return undefined;
  }
}

// The code a worker starts with (a thread: workerData, whose data goes to the start function; a process: its last
// argument, JSON).
const BOOTSTRAP = `
const { isMainThread, workerData } = require('node:worker_threads');
const entry = isMainThread ? JSON.parse(process.argv[process.argv.length - 1]) : workerData.entry;
if (entry.register) require(entry.register);
const worker = require(entry.module);
if (typeof worker[entry.start] !== 'function') throw new Error(entry.module + ' does not export ' + entry.start);
worker[entry.start](isMainThread ? undefined : workerData.data);
`;

/** Start a worker thread running `entry`; its start function is called with `data` (also workerData.data). */
export function startWorkerThread(entry: WorkerEntry, data?: unknown): Worker {
  return new Worker(BOOTSTRAP, { eval: true, workerData: { entry, data }, execArgv: [] });
}

export interface WorkerProcessOptions {
  /** Environment of the process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Where the child's stderr goes (default: inherited, so a crash is seen). */
  stderr?: 'inherit' | 'ignore';
}

/**
 * Start a child process running `entry`, connected by an IPC channel (advanced serialization: typed arrays and
 * Maps cross it). Node's own flags are not passed on: the bootstrap registers what the module needs.
 */
export function startWorkerProcess(entry: WorkerEntry, options: WorkerProcessOptions = {}): ChildProcess {
  return spawn(process.execPath, ['-e', BOOTSTRAP, JSON.stringify(entry)], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'ignore', options.stderr ?? 'inherit', 'ipc'],
    serialization: 'advanced',
  });
}
