import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { StageOutputs } from '@agekit/dataset';

/** Hard-link (else copy) every file under `from` into `to`, keeping what `to` already has. */
async function linkTree(from: string, to: string): Promise<void> {
  let entries;
  try {
    entries = await fs.readdir(from, { withFileTypes: true });
  } catch {
    return;
  }
  await fs.mkdir(to, { recursive: true });
  for (const entry of entries) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) await linkTree(source, target);
    else if (entry.isFile()) await fs.link(source, target).catch(() => fs.copyFile(source, target, fs.constants.COPYFILE_EXCL).catch(() => undefined));
  }
}

/**
 * Begin a training run's output folder: written under a temporary name and renamed into place whole by
 * `commit()`, so an export never reads half a model and a killed run leaves the previous one as it was. The
 * previous run's decode cache (keyed by content) is linked in; with `resume`, training goes on from the folder a
 * killed run left, else from the previous complete run's checkpoints.
 */
export async function beginRunFolder(outDir: string, inputs: Array<string | undefined>, resume: boolean): Promise<{ outputs: StageOutputs; staging: string }> {
  const outputs = await StageOutputs.begin({ inputs, folders: [{ path: outDir, adoptStale: resume }] });
  const staging = outputs.path(outDir);
  try {
    await linkTree(path.join(outDir, 'cache'), path.join(staging, 'cache'));
    if (resume && !outputs.adoptedStale) await fs.cp(path.join(outDir, 'checkpoints'), path.join(staging, 'checkpoints'), { recursive: true }).catch(() => undefined);
  } catch (error) {
    await outputs.abort();
    throw error;
  }
  return { outputs, staging };
}
