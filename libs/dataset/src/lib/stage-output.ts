import { existsSync, promises as fs, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { isInside, temporaryPathFor } from './files';

/** An output path a stage must not use (inside an input, holding one, a file where a folder goes...). One line. */
export class OutputPathError extends Error {
  override readonly name = 'OutputPathError';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

export interface StageFolder {
  path: string;
  /**
   * Whether an existing non-empty folder at `path` may be replaced (default: yes, it is this stage's own output).
   * Return false to refuse, e.g. a bundle folder that holds a user's files.
   */
  replaceable?: (existing: string) => boolean | Promise<boolean>;
  /** Why a folder `replaceable` refused cannot be used, for the error message. */
  refusal?: string;
  /** Entries of the previous folder that belong to another stage: moved into the new folder on commit. */
  keep?: readonly string[];
  /**
   * Start from the newest folder a killed run left (its temporary) instead of an empty one, so the work it saved
   * can go on (training's --resume); the older ones are removed as usual.
   */
  adoptStale?: boolean;
}

export interface StageOutputPlan {
  /** Everything the stage reads (dataset folders, CSVs, models): never written, never inside or holding an output. */
  inputs: ReadonlyArray<string | undefined>;
  /** Folders the stage replaces whole. */
  folders?: ReadonlyArray<string | StageFolder>;
  /** Files the stage replaces whole. */
  files?: readonly string[];
}

/** The real path of `p`, resolving the links of its longest existing ancestor (so a new path is compared too). */
function realPathOf(p: string): string {
  const abs = path.resolve(p);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync.native(head), ...tail);
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return abs;
      tail.unshift(path.basename(head));
      head = parent;
    }
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The temporary siblings of `target` (`.<name>.tmp-<pid>-<n>`, as `temporaryPathFor` names them, and the writers'
 * own temporaries inside that name) left by runs that were killed: those whose process is gone. Newest first.
 */
export async function staleTemporaries(target: string): Promise<string[]> {
  const abs = path.resolve(target);
  const dir = path.dirname(abs);
  const pattern = new RegExp(`^\\.+${escapeRegExp(path.basename(abs))}\\.tmp-(\\d+)-`);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const stale: Array<{ file: string; mtime: number }> = [];
  for (const name of names) {
    const match = pattern.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || processIsAlive(pid)) continue;
    const stat = await fs.lstat(path.join(dir, name)).catch(() => undefined);
    if (stat) stale.push({ file: path.join(dir, name), mtime: stat.mtimeMs });
  }
  return stale.sort((a, b) => b.mtime - a.mtime).map((s) => s.file);
}

/** Remove what `staleTemporaries(target)` lists; returns the removed paths. */
export async function removeStaleTemporaries(target: string): Promise<string[]> {
  const stale = await staleTemporaries(target);
  for (const file of stale) await fs.rm(file, { recursive: true, force: true });
  return stale;
}

async function ensureFolder(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      let at = dir;
      while (!existsSync(at)) at = path.dirname(at);
      throw new OutputPathError(at, 'exists and is not a folder: choose another --out');
    }
    throw new OutputPathError(dir, `cannot create the folder (${code ?? (error as Error).message})`);
  }
}

type PlannedOutput = StageFolder & { kind: 'folder' | 'file' };

/** StageOutputs.check, returning the outputs it checked. */
async function checkPlan(plan: StageOutputPlan): Promise<PlannedOutput[]> {
  const inputs = plan.inputs.filter((i): i is string => Boolean(i)).map((i) => ({ given: path.resolve(i), real: realPathOf(i) }));
  const folders = (plan.folders ?? []).map((f) => (typeof f === 'string' ? { path: f } : f));
  const outputs = [...folders.map((f) => ({ ...f, kind: 'folder' as const })), ...(plan.files ?? []).map((f) => ({ path: f, kind: 'file' as const }))];
  for (const output of outputs) {
    const given = path.resolve(output.path);
    const real = realPathOf(output.path);
    for (const input of inputs) {
      if (isInside(real, input.real) || isInside(given, input.given)) {
        throw new OutputPathError(given, `is inside the input ${input.given} (inputs are never written): choose another --out`);
      }
      if (isInside(input.real, real) || isInside(input.given, given)) {
        throw new OutputPathError(given, `holds the input ${input.given}, which replacing it would delete: choose another --out`);
      }
    }
    let ancestor = path.dirname(given);
    while (!existsSync(ancestor)) ancestor = path.dirname(ancestor);
    if (!statSync(ancestor).isDirectory()) throw new OutputPathError(ancestor, 'exists and is not a folder: choose another --out');
    const stat = await fs.lstat(given).catch(() => undefined);
    if (output.kind === 'file' && stat?.isDirectory()) throw new OutputPathError(given, 'is a folder, where this stage writes a file');
    if (output.kind === 'folder' && stat) {
      if (!stat.isDirectory()) throw new OutputPathError(given, 'exists and is not a folder: choose another --out');
      const folder = output as StageFolder;
      const entries = await fs.readdir(given);
      if (entries.length > 0 && folder.replaceable && !(await folder.replaceable(given))) {
        throw new OutputPathError(given, folder.refusal ?? 'is not empty and is not output of this stage: refusing to replace it');
      }
    }
  }
  return outputs;
}

interface Staged {
  final: string;
  temp: string;
  keep: readonly string[];
}

/**
 * A stage's outputs, written under temporary names beside their final paths and swapped in together by `commit`:
 * a reader sees the previous complete outputs or the new ones, never a part (a kill mid-commit can leave none).
 */
export class StageOutputs {
  private committed = false;

  private constructor(
    private readonly staged: Staged[],
    /** Temporaries of runs that were killed, removed when the stage began. */
    readonly removedStale: readonly string[],
    /** The killed run's folder this run started from (`adoptStale`), if any. */
    readonly adoptedStale?: string,
  ) {}

  /**
   * Check a plan without touching anything: every output outside every input and no input inside an output (compared
   * after symbolic links), folders are folders and files are files, an existing folder is replaceable. Throws
   * OutputPathError (one line) on the first problem. `begin` checks too; call this to fail before slower work.
   */
  static async check(plan: StageOutputPlan): Promise<void> {
    await checkPlan(plan);
  }

  /** `check` the plan, then remove the temporaries of killed runs and create the new temporaries. */
  static async begin(plan: StageOutputPlan): Promise<StageOutputs> {
    const outputs = await checkPlan(plan);
    const removed: string[] = [];
    const staged: Staged[] = [];
    let adopted: string | undefined;
    try {
      for (const output of outputs) {
        const final = path.resolve(output.path);
        await ensureFolder(path.dirname(final));
        const temp = temporaryPathFor(final);
        const stale = await staleTemporaries(final);
        const adopt = output.kind === 'folder' && (output as StageFolder).adoptStale ? stale.find((f) => statSync(f).isDirectory()) : undefined;
        if (adopt) {
          await fs.rename(adopt, temp);
          adopted = adopt;
        }
        for (const file of stale) if (file !== adopt) await fs.rm(file, { recursive: true, force: true });
        removed.push(...stale.filter((f) => f !== adopt));
        if (output.kind === 'folder' && !adopt) await fs.mkdir(temp);
        staged.push({ final, temp, keep: output.kind === 'folder' ? ((output as StageFolder).keep ?? []) : [] });
      }
    } catch (error) {
      await Promise.all(staged.map((s) => fs.rm(s.temp, { recursive: true, force: true })));
      throw error;
    }
    return new StageOutputs(staged, removed, adopted);
  }

  /** `begin(plan)`, then `produce` writes into the temporaries (`outputs.path(final)`), then `commit`; `abort` on error. */
  static async write<T>(plan: StageOutputPlan, produce: (outputs: StageOutputs) => Promise<T>): Promise<T> {
    const outputs = await StageOutputs.begin(plan);
    try {
      const result = await produce(outputs);
      await outputs.commit();
      return result;
    } catch (error) {
      await outputs.abort();
      throw error;
    }
  }

  /** Where to write the output whose final path is `final` (a folder that exists, or a file path to create). */
  path(final: string): string {
    const abs = path.resolve(final);
    const entry = this.staged.find((s) => s.final === abs);
    if (!entry) throw new Error(`${abs} is not an output of this stage`);
    return entry.temp;
  }

  /**
   * Put every output in place: first move every previous output aside, then rename every new one in, then delete
   * the previous ones. An output the stage did not write (no temporary file) is removed, so it cannot go stale.
   */
  async commit(): Promise<void> {
    if (this.committed) throw new Error('stage outputs already committed');
    this.committed = true;
    const previous: Array<{ final: string; aside: string }> = [];
    for (const s of this.staged) {
      const aside = temporaryPathFor(s.final);
      try {
        await fs.rename(s.final, aside);
        previous.push({ final: s.final, aside });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    for (const s of this.staged) {
      const old = previous.find((p) => p.final === s.final);
      for (const name of s.keep) {
        if (old && existsSync(path.join(old.aside, name))) await fs.rename(path.join(old.aside, name), path.join(s.temp, name));
      }
      try {
        await fs.rename(s.temp, s.final);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    await Promise.all(previous.map((p) => fs.rm(p.aside, { recursive: true, force: true })));
  }

  /** Drop every temporary; the previous outputs stay as they were. */
  async abort(): Promise<void> {
    if (this.committed) return;
    this.committed = true;
    await Promise.all(this.staged.map((s) => fs.rm(s.temp, { recursive: true, force: true })));
  }
}
