import type { CliCommand } from '../lib/command';

/**
 * Every `agekit` command, loaded lazily so `agekit --help` and each stage start fast.
 * Add a stage by writing commands/<name>.ts exporting `command` and one line here.
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  // <commands>
};
