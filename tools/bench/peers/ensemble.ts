/**
 * Teacher ensembles for the peers bench (issue #21): `--ensemble faceapi+faceres+DIR` (repeatable, in `table` and
 * `groups`) adds a row whose age for each image is the mean of its members' ages, scored by the same code as every
 * other row. A member is a peer name or an agekit model folder; `MEMBER=WEIGHT` makes it a weighted mean. Every member
 * is run once, however many ensembles name it, and keeps its own row.
 */
import * as path from 'node:path';
import { describeError, UsageError } from '@agekit/dataset';
import { resolveModelFolder } from '@agekit/model';
import { PEERS, type PeerName } from './peers';

export const ENSEMBLE_USAGE = `[--ensemble MEMBER+MEMBER[+...] (mean age of peers and model folders; MEMBER=WEIGHT for a weighted mean)]...`;

export interface EnsembleMember {
  /** The peer's name, or the model folder (resolved as loadModel resolves it). */
  key: string;
  kind: 'peer' | 'model';
  /** The member's name in the row: the peer's name or the model folder's base name. */
  label: string;
  weight: number;
}

export interface Ensemble {
  /** The flag as written. */
  spec: string;
  /** The row's name: `mean of` the members' labels joined by '+', weights after '=' when any is given. */
  label: string;
  members: EnsembleMember[];
}

/** A peer name (peers win: name a folder called like a peer `./faceapi`) or a model folder, with its weight. */
async function parseMember(part: string, spec: string, cwd: string): Promise<{ member: EnsembleMember; weighted: boolean }> {
  const eq = part.lastIndexOf('=');
  const name = (eq < 0 ? part : part.slice(0, eq)).trim();
  const weight = eq < 0 ? 1 : Number(part.slice(eq + 1));
  if (!(Number.isFinite(weight) && weight > 0)) throw new UsageError(`--ensemble '${spec}': the weight of '${name}' must be a positive number (got '${part.slice(eq + 1)}')`);
  if ((PEERS as readonly string[]).includes(name)) return { member: { key: name, kind: 'peer', label: name, weight }, weighted: eq >= 0 };
  let dir: string;
  try {
    dir = await resolveModelFolder(path.resolve(cwd, name));
  } catch (error) {
    throw new UsageError(`--ensemble '${spec}': '${name}' is neither a peer (${PEERS.join(', ')}) nor a model folder (${describeError(error)})`);
  }
  return { member: { key: dir, kind: 'model', label: path.basename(dir), weight }, weighted: eq >= 0 };
}

/** Parse one `--ensemble` value; a usage error for fewer than two members, a repeated member, a bad weight or an unknown member. */
export async function parseEnsemble(spec: string, cwd: string): Promise<Ensemble> {
  const parts = spec.split('+').map((s) => s.trim());
  if (parts.length < 2 || parts.some((p) => p === '')) throw new UsageError(`--ensemble '${spec}': name two or more members joined by '+' (peers ${PEERS.join(', ')} or model folders)`);
  const parsed = await Promise.all(parts.map((part) => parseMember(part, spec, cwd)));
  const members = parsed.map((p) => p.member);
  const seen = new Set<string>();
  for (const m of members) {
    if (seen.has(m.key)) throw new UsageError(`--ensemble '${spec}': '${m.label}' is named twice (give it a weight instead)`);
    seen.add(m.key);
  }
  const weighted = parsed.some((p) => p.weighted);
  const label = `mean of ${members.map((m) => (weighted ? `${m.label}=${m.weight}` : m.label)).join('+')}`;
  return { spec, label, members };
}

/** Parse every `--ensemble` value of a command (none: an empty list). */
export function parseEnsembles(specs: readonly string[] | undefined, cwd: string): Promise<Ensemble[]> {
  return Promise.all((specs ?? []).map((spec) => parseEnsemble(spec, cwd)));
}

/**
 * What to run: the model folders and peers asked for, then every ensemble member not among them, each once and in the
 * order first named. `modelDirs` are resolved folders (resolveModelFolder), so a run folder and its model are one member.
 */
export function ensembleMembersToRun(ensembles: readonly Ensemble[], modelDirs: readonly string[], peers: readonly PeerName[]): { modelDirs: string[]; peers: PeerName[] } {
  const dirs = [...new Set(modelDirs)];
  const names = [...new Set(peers)];
  for (const m of ensembles.flatMap((e) => e.members)) {
    if (m.kind === 'model' && !dirs.includes(m.key)) dirs.push(m.key);
    if (m.kind === 'peer' && !names.includes(m.key as PeerName)) names.push(m.key as PeerName);
  }
  return { modelDirs: dirs, peers: names };
}

/** One member's run over the images: its age per image (NaN where it has none), parameters and ms/img. */
export interface MemberRun {
  ages: ArrayLike<number>;
  parameters: number;
  msPerImage: number;
}

/**
 * The ensemble's run: per image the weighted mean of its members' ages, NaN where any member has no age (so every
 * image of an ensemble row is scored on all of its members); parameters and ms/img are the members' sums.
 * Throws when a member has no run or runs differ in length.
 */
export function ensembleRun(ensemble: Ensemble, runs: ReadonlyMap<string, MemberRun>): MemberRun & { ages: number[] } {
  const members = ensemble.members.map((m) => {
    const run = runs.get(m.key);
    if (!run) throw new Error(`ensemble ${ensemble.label}: no run of member '${m.label}'`);
    return { run, weight: m.weight };
  });
  const count = members[0].run.ages.length;
  if (members.some((m) => m.run.ages.length !== count)) throw new Error(`ensemble ${ensemble.label}: members have ages for different numbers of images`);
  const total = members.reduce((s, m) => s + m.weight, 0);
  const ages = Array.from({ length: count }, (_, i) => {
    let sum = 0;
    for (const m of members) {
      const age = m.run.ages[i];
      if (!Number.isFinite(age)) return NaN;
      sum += m.weight * age;
    }
    return sum / total;
  });
  return { ages, parameters: members.reduce((s, m) => s + m.run.parameters, 0), msPerImage: members.reduce((s, m) => s + m.run.msPerImage, 0) };
}

/** Every ensemble whose members all ran, with its run; the others as `not run` lines naming the missing members. */
export function runEnsembles(ensembles: readonly Ensemble[], runs: ReadonlyMap<string, MemberRun>): { done: { ensemble: Ensemble; run: MemberRun & { ages: number[] } }[]; notRun: string[] } {
  const done: { ensemble: Ensemble; run: MemberRun & { ages: number[] } }[] = [];
  const notRun: string[] = [];
  for (const ensemble of ensembles) {
    const missing = ensemble.members.filter((m) => !runs.has(m.key)).map((m) => m.label);
    if (missing.length) notRun.push(`${ensemble.label}: ${missing.join(', ')} not run`);
    else done.push({ ensemble, run: ensembleRun(ensemble, runs) });
  }
  return { done, notRun };
}
