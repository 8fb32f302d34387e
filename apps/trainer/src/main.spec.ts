import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
// The synthetic-face generator is a workspace tool, not a library: tests import it by path (house convention).
import { generateSynthDataset } from '@agekit/synth';
import { main, type Io } from './main';

function capture(): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

describe('agekit-trainer', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-trainer-'));
    await generateSynthDataset({ out: path.join(dir, 'data'), count: 160, seed: 5, size: 40, minAge: 20, maxAge: 29, defectRate: 0, duplicateRate: 0, ageDistribution: 'uniform' });
  }, 180_000);
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('--version prints the package version; usage errors put the usage on stderr only', async () => {
    const version = capture();
    expect(await main(['--version'], version)).toBe(0);
    expect(version.lines.join('\n')).toMatch(/^\d+\.\d+\.\d+/);
    const usage = capture();
    expect(await main(['train', '--no-such-flag'], usage)).toBe(2);
    expect(usage.lines).toEqual([]);
    expect(usage.errors.join('\n')).toMatch(/usage: agekit-trainer/);
  });

  it('exits 2 on usage errors and on a bad config (as every agekit app does), naming the field', async () => {
    expect(await main([], capture())).toBe(2);
    expect(await main(['bogus'], capture())).toBe(2);
    expect(await main(['train'], capture())).toBe(2);
    expect(await main(['evaluate', '--model', 'x'], capture())).toBe(2);
    const bad = path.join(dir, 'bad.json');
    await fs.writeFile(bad, JSON.stringify({ architecture: 'resnet' }));
    const io = capture();
    expect(await main(['train', '--config', bad], io)).toBe(2);
    expect(io.errors.join('\n')).toMatch(/bad\.json.*architecture/s);
  });

  it('evaluate on the trained model reproduces the validation figures train printed', async () => {
    const config = {
      data: path.join(dir, 'data'),
      out: path.join(dir, 'run'),
      architecture: 'simple-cnn',
      task: { kind: 'classification', minAge: 20, maxAge: 29 },
      input: { size: 32, grayscale: true },
      training: { epochs: 2, batchSize: 32, learningRate: 0.001 },
      split: { train: 0.6, val: 0.4, test: 0 },
      backend: 'wasm',
      seed: 3,
    };
    const file = path.join(dir, 'train.json');
    await fs.writeFile(file, JSON.stringify(config));
    const trained = capture();
    expect(await main(['train', '--config', file, '--json'], trained)).toBe(0);
    expect(trained.errors.join('\n')).toMatch(/backend: wasm/);
    // --json: stdout is the one JSON document, the text summary goes to stderr
    expect(trained.lines).toHaveLength(1);
    expect(trained.errors.join('\n')).toMatch(/best epoch/);
    const trainJson = JSON.parse(trained.lines[0]) as { validation: Record<string, number | null> };
    for (const name of ['model.json', 'weights.bin', 'agekit-model.json', 'history.json']) {
      await expect(fs.stat(path.join(dir, 'run', name))).resolves.toBeTruthy();
    }
    const evaluated = capture();
    expect(await main(['evaluate', '--model', path.join(dir, 'run'), '--data', path.join(dir, 'data'), '--json'], evaluated)).toBe(0);
    expect(evaluated.lines).toHaveLength(1);
    const evalJson = JSON.parse(evaluated.lines[0]) as { evaluation: Record<string, number | null> };
    expect(evalJson.evaluation.count).toBe(trainJson.validation.count);
    for (const metric of ['mae', 'cs5', 'accuracy', 'auc', 'loss']) {
      expect(evalJson.evaluation[metric]).not.toBeNull();
      expect(evalJson.evaluation[metric]).toBeCloseTo(trainJson.validation[metric] as number, 5);
    }
    expect(evaluated.errors.join('\n')).toMatch(/confusion matrix/);
    expect(evaluated.errors.join('\n')).toMatch(/MAE by age band: 20-29/);
  }, 180_000);
});
