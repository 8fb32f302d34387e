import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateSynthDataset } from '@agekit/synth';
import { transferModel } from '@agekit/transfer';
import { runPeersTable, type TableIo } from './table';

function capture(): TableIo & { lines: string[]; errors: string[]; results: unknown[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  const results: unknown[] = [];
  return { lines, errors, results, out: (l) => lines.push(l), err: (l) => errors.push(l), result: (v) => results.push(v) };
}

describe('peers table (tools/bench/peers/main.ts table)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-peers-'));
    await generateSynthDataset({ out: path.join(dir, 'data'), count: 40, seed: 9, size: 48, minAge: 20, maxAge: 29, defectRate: 0, duplicateRate: 0, ageDistribution: 'uniform' });
  }, 120_000);
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('exits 2 on usage errors', async () => {
    expect(await runPeersTable([], capture(), dir)).toBe(2);
    const io = capture();
    expect(await runPeersTable(['--data', dir, '--peers', 'nope'], io, dir)).toBe(2);
    expect(io.errors.join('\n')).toContain("unknown peer 'nope'");
    const one = capture();
    expect(await runPeersTable(['--data', dir, '--ensemble', 'faceapi'], one, dir)).toBe(2);
    expect(one.errors.join('\n')).toContain('two or more members');
  });

  it('puts an agekit transfer model beside the faceapi peer and names the peers it could not run', async () => {
    await transferModel({
      data: path.join(dir, 'data'),
      out: path.join(dir, 'out'),
      tasks: [{ name: 'years', task: { kind: 'classification', minAge: 20, maxAge: 29 } }],
      head: { hidden: 8, dropout: 0.2 },
      training: { epochs: 1, batchSize: 16 },
    });
    const io = capture();
    const args = ['--data', path.join(dir, 'data'), '--peers', 'faceapi,gear', '--model', path.join(dir, 'out', 'years'), '--human-models', path.join(dir, 'absent')];
    expect(await runPeersTable([...args, '--max-age', '29'], io, dir)).toBe(0);
    const out = io.lines.join('\n');
    expect(out).toMatch(/\| years \(faceapi-xception\+dense\)/);
    expect(out).toMatch(/\| faceapi: face-api AgeGenderNet.*\| +420,705 \|/);
    expect(out).toContain('not run: gear:');
    expect(out).toContain('fetch-human-models.sh');
    expect(io.results).toHaveLength(1);

    // ensembles of the two: a member with a negligible weight leaves the other's row (so each member's ages reach the
    // ensemble in record order), and the plain mean is no worse than the mean of the members' MAEs (|a+b|/2 <= (|a|+|b|)/2)
    const years = path.join(dir, 'out', 'years');
    const withEnsembles = capture();
    const ensembles = ['--ensemble', `faceapi=1+${years}=1e-9`, '--ensemble', `faceapi=1e-9+${years}=1`, '--ensemble', `faceapi+${years}`];
    expect(await runPeersTable([...args, '--max-age', '29', ...ensembles], withEnsembles, dir)).toBe(0);
    type Row = { model: string; parameters: number; count: number; mae: number; bands: { mae: number }[] };
    const rows = (withEnsembles.results[0] as { rows: Row[] }).rows;
    expect(rows.map((r) => r.model.split(' (')[0].split(':')[0])).toEqual(['years', 'faceapi', 'mean of faceapi=1+years=1e-9', 'mean of faceapi=1e-9+years=1', 'mean of faceapi+years']);
    const [model, faceapi, nearFaceapi, nearModel, mean] = rows;
    expect(nearFaceapi.mae).toBeCloseTo(faceapi.mae, 6);
    expect(nearModel.mae).toBeCloseTo(model.mae, 6);
    nearModel.bands.forEach((b, k) => expect(b.mae).toBeCloseTo(model.bands[k].mae, 6));
    expect(mean.mae).toBeLessThanOrEqual((model.mae + faceapi.mae) / 2 + 1e-9);
    expect(mean.mae).not.toBeCloseTo(model.mae, 3);
    expect([mean.count, mean.parameters]).toEqual([faceapi.count, faceapi.parameters + model.parameters]);
  }, 240_000);
});
