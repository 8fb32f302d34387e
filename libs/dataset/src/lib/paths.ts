import { promises as fs, readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { isInside } from './files';

/**
 * Why a dataset entry is not a usable record. Stable codes: they start the text of CSV `error` columns.
 * - outside-dataset: a `..` or absolute path, or a symbolic link whose target leaves the dataset folder
 * - symlink-loop: a link that points back at a folder being listed (or a link chain that never ends)
 * - not-found: a dangling link, or a labels-CSV row naming a file that does not exist (explore reports those)
 * - not-a-file: a folder named like an image
 * - unexpected-folder: a folder deeper than the layout reads
 * - bad-name, bad-label, not-in-label-folder, duplicate-row, empty-name: the layout's own rules
 */
export type DatasetProblemCode =
  | 'outside-dataset'
  | 'symlink-loop'
  | 'not-found'
  | 'not-a-file'
  | 'unexpected-folder'
  | 'bad-name'
  | 'bad-label'
  | 'not-in-label-folder'
  | 'duplicate-row'
  | 'empty-name';

/** Something in the dataset that is not a usable record (a bad file name, a path that escapes, a missing file). */
export interface DatasetProblem {
  /** The entry as the user wrote it: a path relative to the root, or `labels.csv:LINE (entry)`. */
  path: string;
  code: DatasetProblemCode;
  /** One line: the code, then what is wrong. */
  reason: string;
}

export function datasetProblem(entry: string, code: DatasetProblemCode, detail: string): DatasetProblem {
  return { path: entry, code, reason: `${code}: ${detail}` };
}

/** The real path of an existing folder (symbolic links resolved); the path itself when that fails. */
export function realFolder(dir: string): string {
  try {
    return realpathSync.native(dir);
  } catch {
    return path.resolve(dir);
  }
}

/** A folder seen by realPathIn: its real path and its entries (names, and which of them are symbolic links). */
export interface RealFolder {
  real: string;
  /** The names of its entries, as read. */
  entries: string[];
  links: Set<string>;
  /** `entries` as a set, made on the first lookup (a labels CSV's plain names need only `links`). */
  names?: Set<string>;
}

/**
 * realpathSync.native(file) for an absolute, normalised path, with each folder listed once into `realFolders`: a
 * file listed in its folder and not a symbolic link is its folder's real path plus its name, so a dataset of many
 * files in few folders costs one directory read per folder instead of a readlink per path component per file.
 * Anything else (a link, a name not listed, an unreadable folder) takes realpathSync.native itself, so the result
 * and the errors thrown are the same.
 */
export function realPathIn(file: string, realFolders: Map<string, RealFolder | null>): string {
  const name = path.basename(file);
  const folder = realFolderIn(path.dirname(file), realFolders);
  if (!folder || !name || folder.links.has(name)) return realpathSync.native(file);
  folder.names ??= new Set(folder.entries);
  if (!folder.names.has(name)) return realpathSync.native(file);
  return folder.real === '/' ? `/${name}` : `${folder.real}/${name}`;
}

/** The listing of `folderPath` that realPathIn keeps in `realFolders` (listed on first use; null when it cannot be). */
export function realFolderIn(folderPath: string, realFolders: Map<string, RealFolder | null>): RealFolder | null {
  let folder = realFolders.get(folderPath);
  if (folder === undefined) {
    try {
      const entries: string[] = [];
      const links = new Set<string>();
      for (const entry of readdirSync(folderPath, { withFileTypes: true })) {
        entries.push(entry.name);
        if (entry.isSymbolicLink()) links.add(entry.name);
      }
      folder = { real: realpathSync.native(folderPath), entries, links };
    } catch {
      folder = null;
    }
    realFolders.set(folderPath, folder);
  }
  return folder;
}

/**
 * Check that `file` (already resolved against its base, not yet known to exist) stays inside `root`, whose real
 * path is `realRoot`: lexically, and after symbolic links. Returns undefined when it does (a missing file is
 * left for the reader to report), else the problem. Pass the same `realFolders` map for the files of one dataset
 * (see realPathIn).
 */
export function checkInsideRoot(
  file: string,
  root: string,
  realRoot: string,
  entry: string,
  where = entry,
  realFolders: Map<string, RealFolder | null> = new Map(),
): DatasetProblem | undefined {
  if (!isInside(file, root)) return datasetProblem(entry, 'outside-dataset', `${where}: ${entry} resolves to ${file}, outside the dataset folder ${root}`);
  let real: string;
  try {
    real = realPathIn(file, realFolders);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return datasetProblem(entry, 'symlink-loop', `${where}: ${entry}: symbolic links that never end`);
    // a missing file: explore reports it as not-found with the reader's message
    return undefined;
  }
  if (real !== file && !isInside(real, realRoot)) {
    return datasetProblem(entry, 'outside-dataset', `${where}: ${entry} is a symbolic link to ${real}, outside the dataset folder ${root}`);
  }
  return undefined;
}

export interface ListImagesOptions {
  /** Lower-case extensions with the dot. */
  extensions: readonly string[];
  /** Folder levels below the root to descend into (0: the root's files only). Deeper folders are problems. */
  maxDepth: number;
  /** Report folders below maxDepth as problems (a layout that reads a fixed depth); false: ignore them. */
  reportDeeperFolders?: boolean;
}

export interface ImageListing {
  /** Absolute paths (as reached from the root, links not resolved), sorted. */
  files: string[];
  problems: DatasetProblem[];
}

const relId = (root: string, file: string): string => path.relative(root, file).split(path.sep).join('/');

/** Reads a folder's entries for listImageFiles: fs.readdir, or a memo of it (see readFolderOnce). */
export type ReadFolder = (dir: string) => Promise<Dirent[]>;

const readFolderEntries: ReadFolder = (dir) => fs.readdir(dir, { withFileTypes: true });

/** A ReadFolder that reads each folder once: detecting a dataset's layout and then reading it list the same folders. */
export function readFolderOnce(): ReadFolder {
  const read = new Map<string, Promise<Dirent[]>>();
  return (dir) => {
    let entries = read.get(dir);
    if (!entries) {
      entries = readFolderEntries(dir);
      read.set(dir, entries);
    }
    return entries;
  };
}

/** path.join(dir, name) for a normalised absolute `dir` and a name read from it (no separator, never '.' or '..'). */
const childPath = (dir: string, name: string): string => (dir.endsWith(path.sep) ? dir + name : dir + path.sep + name);

/**
 * The image files under `root`, never leaving it: symbolic links are followed only to targets inside the root,
 * a link back to a folder being listed is a `symlink-loop` problem (listed once, never descended), dangling links
 * are `not-found`, and a folder named like an image is `not-a-file`. Hidden entries (a leading '.') are skipped:
 * they hold agekit's own temporary outputs.
 */
export function listImageFiles(root: string, options: ListImagesOptions): Promise<ImageListing> {
  return listImageFilesWith(root, options, readFolderEntries);
}

/** listImageFiles reading folders through `readFolder`. */
export async function listImageFilesWith(root: string, options: ListImagesOptions, readFolder: ReadFolder): Promise<ImageListing> {
  const absRoot = path.resolve(root);
  const realRoot = realFolder(absRoot);
  const files: string[] = [];
  const problems: DatasetProblem[] = [];
  const isImageName = (name: string): boolean => {
    const lower = name.toLowerCase();
    return options.extensions.some((ext) => lower.endsWith(ext));
  };
  const walk = async (dir: string, realDir: string, depth: number, open: ReadonlySet<string>): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readFolder(dir);
    } catch (error) {
      if (dir === absRoot) throw error;
      problems.push(datasetProblem(relId(absRoot, dir), 'not-found', `cannot list folder: ${(error as Error).message}`));
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = childPath(dir, entry.name);
      let isDir = entry.isDirectory();
      if (!isDir && !entry.isSymbolicLink()) {
        // a plain file, the common case: no id or real path needed
        if (isImageName(entry.name)) files.push(full);
        continue;
      }
      const id = relId(absRoot, full);
      let realChild = childPath(realDir, entry.name);
      if (entry.isSymbolicLink()) {
        try {
          realChild = realpathSync.native(full);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ELOOP') problems.push(datasetProblem(id, 'symlink-loop', `${id}: symbolic links that never end`));
          else problems.push(datasetProblem(id, 'not-found', `${id}: a symbolic link to nothing (${code ?? 'error'})`));
          continue;
        }
        if (!isInside(realChild, realRoot)) {
          problems.push(datasetProblem(id, 'outside-dataset', `${id} is a symbolic link to ${realChild}, outside the dataset folder ${absRoot}`));
          continue;
        }
        try {
          isDir = statSync(realChild).isDirectory();
        } catch (error) {
          problems.push(datasetProblem(id, 'not-found', `${id}: ${(error as Error).message}`));
          continue;
        }
        if (isDir && (open.has(realChild) || isInside(realDir, realChild))) {
          problems.push(datasetProblem(id, 'symlink-loop', `${id} is a symbolic link back to ${relId(realRoot, realChild) || '.'} (not followed)`));
          continue;
        }
      }
      if (isDir) {
        if (depth < options.maxDepth) await walk(full, realChild, depth + 1, new Set([...open, realChild]));
        else if (isImageName(entry.name)) problems.push(datasetProblem(id, 'not-a-file', `${id} is a folder, not an image`));
        else if (options.reportDeeperFolders) {
          // name every image it holds, so none is dropped silently (the folder itself when it holds none)
          const inner = await listImageFilesWith(full, { extensions: options.extensions, maxDepth: 8 }, readFolder);
          for (const file of inner.files) {
            const fileId = relId(absRoot, file);
            problems.push(datasetProblem(fileId, 'unexpected-folder', `${fileId}: in ${id}/, deeper than this layout reads (not read)`));
          }
          if (inner.files.length === 0) problems.push(datasetProblem(id, 'unexpected-folder', `${id}: a folder deeper than this layout reads (not read)`));
        }
      } else if (isImageName(entry.name)) {
        files.push(full);
      }
    }
  };
  await walk(absRoot, realRoot, 0, new Set([realRoot]));
  files.sort();
  return { files, problems };
}
