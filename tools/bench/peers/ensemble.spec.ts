import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError } from '@agekit/dataset';
import { ensembleMembersToRun, ensembleRun, parseEnsemble, parseEnsembles, runEnsembles, type MemberRun } from './ensemble';

describe('teacher ensembles (tools/bench/peers --ensemble)', () => {
  let dir: string;
  let modelDir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-ensemble-'));
    // a run folder holding one model folder (what resolveModelFolder looks for: agekit-model.json)
    modelDir = path.join(dir, 'run', 'model', 'age');
    await fs.mkdir(modelDir, { recursive: true });
    await fs.writeFile(path.join(modelDir, 'agekit-model.json'), '{}');
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reads peers by name and model folders by path (a run folder resolves to its model), weights after =', async () => {
    const e = await parseEnsemble('faceapi+faceres+run', dir);
    expect(e.members).toEqual([
      { key: 'faceapi', kind: 'peer', label: 'faceapi', weight: 1 },
      { key: 'faceres', kind: 'peer', label: 'faceres', weight: 1 },
      { key: modelDir, kind: 'model', label: 'age', weight: 1 },
    ]);
    expect(e.label).toBe('mean of faceapi+faceres+age');
    const weighted = await parseEnsemble(`faceapi=1+${modelDir}=2.5`, '/');
    expect(weighted.members.map((m) => [m.key, m.weight])).toEqual([
      ['faceapi', 1],
      [modelDir, 2.5],
    ]);
    expect(weighted.label).toBe('mean of faceapi=1+age=2.5');
    expect(await parseEnsembles(undefined, dir)).toEqual([]);
  });

  it.each([
    ['faceapi', 'two or more members'],
    ['faceapi+', 'two or more members'],
    ['faceapi+facapi', "'facapi' is neither a peer"],
    ['faceapi+run+run/model/age', "'age' is named twice"],
    ['faceapi=0+faceres', 'must be a positive number'],
    ['faceapi=x+faceres', 'must be a positive number'],
    ['faceapi+faceres=-1', 'must be a positive number'],
  ])("refuses --ensemble '%s' with a usage error", async (spec, message) => {
    const parsed = parseEnsemble(spec, dir);
    await expect(parsed).rejects.toBeInstanceOf(UsageError);
    await expect(parsed).rejects.toThrow(message);
  });

  it('runs every member once: the models and peers asked for, then members not among them, in order', async () => {
    const ensembles = await parseEnsembles(['faceapi+run', 'faceres+faceapi+run/model/age'], dir);
    expect(ensembleMembersToRun(ensembles, [modelDir], ['faceapi'])).toEqual({ modelDirs: [modelDir], peers: ['faceapi', 'faceres'] });
    expect(ensembleMembersToRun(ensembles, [], [])).toEqual({ modelDirs: [modelDir], peers: ['faceapi', 'faceres'] });
  });

  it('gives the (weighted) mean age of known predictors, NaN where a member has none, and sums parameters and ms/img', async () => {
    const runs = new Map<string, MemberRun>([
      ['faceapi', { ages: [20, 30, NaN, 50], parameters: 100, msPerImage: 2 }],
      ['faceres', { ages: [40, 30, 10, 60], parameters: 1000, msPerImage: 5 }],
      [modelDir, { ages: [30, 60, 20, 10], parameters: 10, msPerImage: 1 }],
    ]);
    const mean = ensembleRun(await parseEnsemble('faceapi+faceres+run', dir), runs);
    expect(mean.ages.map((a) => (Number.isNaN(a) ? 'NaN' : a))).toEqual([30, 40, 'NaN', 40]);
    expect([mean.parameters, mean.msPerImage]).toEqual([1110, 8]);
    const weighted = ensembleRun(await parseEnsemble('faceres=1+run=3', dir), runs);
    expect(weighted.ages).toEqual([(40 + 3 * 30) / 4, (30 + 3 * 60) / 4, (10 + 3 * 20) / 4, (60 + 3 * 10) / 4]);
  });

  it("names the ensembles it could not run (a member missing) and runs the others", async () => {
    const ensembles = await parseEnsembles(['faceapi+gear', 'faceapi+run'], dir);
    const runs = new Map<string, MemberRun>([
      ['faceapi', { ages: [20], parameters: 1, msPerImage: 1 }],
      [modelDir, { ages: [40], parameters: 1, msPerImage: 1 }],
    ]);
    const { done, notRun } = runEnsembles(ensembles, runs);
    expect(notRun).toEqual(['mean of faceapi+gear: gear not run']);
    expect(done.map((d) => [d.ensemble.label, d.run.ages])).toEqual([['mean of faceapi+age', [30]]]);
    expect(() => ensembleRun(ensembles[0], runs)).toThrow("no run of member 'gear'");
  });
});
