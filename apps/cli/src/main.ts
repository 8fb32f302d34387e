#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { EXIT, exitCodeOf, packageVersion, UsageError } from '@agekit/dataset';
import { COMMANDS } from './commands';
import { COMMON_USAGE } from './lib/command';
import { Terminal } from './lib/terminal';

// Bundled (esbuild), this file is the module explore's worker processes load (see @agekit/dataset's
// resolveWorkerEntry); runCli below runs only when this is the process's entry, never in those workers.
export { runExploreWorker } from '@agekit/quality';

function topUsage(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length), 8);
  return `agekit: face images -> checked, cleaned, rebalanced dataset -> small age model -> ONNX bundle

usage: agekit <command> [flags]   (agekit <command> --help for its flags; agekit --version)

commands:
${names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`).join('\n')}

exit codes: 0 ok, 1 failed, 2 bad usage`;
}

/** Run the CLI with argv (without node and script); returns the exit code. */
export async function runCli(argv: string[], term?: Terminal): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    process.stderr.write(`${topUsage()}\n`);
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${topUsage()}\n`);
    return EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${packageVersion(__dirname)}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`error: unknown command '${name}'\n\n${topUsage()}\n`);
    return EXIT.usage;
  }
  const command = await entry.load();
  // commands that take the stage flags list them; the others (serve) take only their own
  const help = `usage: agekit ${name} ${command.usage}${'config' in command.options ? `\n\n${COMMON_USAGE}` : ''}`;
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n\n${help}\n`);
    return EXIT.usage;
  }
  if (parsed.values['help']) {
    process.stdout.write(`${entry.summary}\n\n${help}\n`);
    return EXIT.ok;
  }
  const terminal = term ?? new Terminal(Boolean(parsed.values['json']));
  try {
    return await command.run({ values: parsed.values, positionals: parsed.positionals, term: terminal, cwd: process.cwd() });
  } catch (error) {
    if (error instanceof UsageError) {
      terminal.error(`${error.message}\n\n${help}`);
      return EXIT.usage;
    }
    // one line; the stack only when asked for (AGEKIT_DEBUG=1), for a bug report
    const code = exitCodeOf(error);
    const debug = code === EXIT.failed && process.env['AGEKIT_DEBUG'] === '1';
    terminal.error(error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : String(error));
    return code;
  }
}

/**
 * The process stage's worker threads load this module when the CLI is one bundled file (see @agekit/dataset's
 * resolveWorkerEntry); @agekit/enhance is loaded only there, so other commands start without it.
 */
export function runProcessDatasetWorker(job: unknown): void {
  void import('@agekit/enhance').then((enhance) => enhance.runProcessDatasetWorker(job as Parameters<typeof enhance.runProcessDatasetWorker>[0]));
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      process.stderr.write(`error: ${String(error)}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
