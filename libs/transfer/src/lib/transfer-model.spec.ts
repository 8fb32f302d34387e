import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel } from '@agekit/model';
import { generateSynthDataset } from '@agekit/synth';
import { TRANSFER_DEFAULTS } from './config';
import { transferModel, type TransferEvent } from './transfer-model';

describe('transferModel', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-transfer-model-'));
    await generateSynthDataset({ out: path.join(dir, 'data'), count: 60, seed: 5, size: 48, minAge: 20, maxAge: 50, defectRate: 0, duplicateRate: 0, ageDistribution: 'uniform' });
  }, 120_000);
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('with only data and out: the default task, head and training, one committed model folder, typed result', async () => {
    const out = path.join(dir, 'out');
    const events: TransferEvent[] = [];
    const phases = new Set<string>();
    const result = await transferModel({ data: path.join(dir, 'data'), out, onEvent: (e) => events.push(e), onProgress: (p) => phases.add(p.phase) });
    const name = TRANSFER_DEFAULTS.tasks[0].name;
    expect(result.out).toBe(out);
    expect(result.backend).toBe('wasm');
    expect(result.tasks.map((t) => t.name)).toEqual([name]);
    const task = result.tasks[0];
    expect(task.out).toBe(path.join(out, name));
    // hidden 256 by default: 512 x 256 + 256 + 256 x 31 + 31 on the 420,192 backbone parameters
    expect(task.headParameters).toBe(512 * 256 + 256 + 256 * 31 + 31);
    expect(task.parameters).toBe(420_192 + task.headParameters);
    expect(task.epochsRun).toBeGreaterThan(0);
    expect(task.epochsRun).toBeLessThanOrEqual(TRANSFER_DEFAULTS.training.epochs);
    expect(task.fineTune).toBeUndefined();
    expect(task.validation.count).toBeGreaterThan(0);
    expect(Number.isFinite(task.validation.mae)).toBe(true);
    expect(events.filter((e) => e.kind === 'epoch')).toHaveLength(task.epochsRun);
    expect(events.at(-1)).toEqual({ kind: 'saved', result: task });
    expect([...phases]).toEqual(expect.arrayContaining(['decode train', 'features train', 'decode val', 'features val']));

    const { model, metadata } = await loadModel(task.out);
    expect(metadata.parameters).toBe(task.parameters);
    expect(metadata.task.kind).toBe('classification');
    expect(metadata.training).toMatchObject({ epochs: 60, batchSize: 64, seed: 42, head: { hidden: 256, dropout: 0.5 }, fineTune: { from: 'none' } });
    model.dispose();
    const history = JSON.parse(await fs.readFile(path.join(task.out, 'history.json'), 'utf8')) as { history: unknown[]; bestEpoch: number };
    expect(history.history).toHaveLength(task.epochsRun);
    expect(history.bestEpoch).toBe(task.bestEpoch);
    // the run folder is committed whole: no staging folder is left beside it
    expect((await fs.readdir(dir)).sort()).toEqual(['data', 'out']);
  }, 300_000);

  it('stopped by its signal: nothing is committed and the previous run is kept', async () => {
    const out = path.join(dir, 'out');
    const before = await fs.readFile(path.join(out, TRANSFER_DEFAULTS.tasks[0].name, 'history.json'), 'utf8');
    const controller = new AbortController();
    const run = transferModel({
      data: path.join(dir, 'data'),
      out,
      tasks: [{ name: 'other', task: { kind: 'regression', minAge: 20, maxAge: 50 } }],
      signal: controller.signal,
      onEvent: (e) => {
        if (e.kind === 'epoch' && e.record.epoch === 1) controller.abort(new Error('stop here'));
      },
    });
    await expect(run).rejects.toThrow('stop here');
    expect(await fs.readFile(path.join(out, TRANSFER_DEFAULTS.tasks[0].name, 'history.json'), 'utf8')).toBe(before);
    await expect(fs.stat(path.join(out, 'other'))).rejects.toThrow();
    expect((await fs.readdir(dir)).sort()).toEqual(['data', 'out']);
  }, 300_000);
});
