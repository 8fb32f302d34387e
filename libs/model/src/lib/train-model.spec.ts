import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateSynthDataset } from '@agekit/synth';
import { saveLeftHalfTeacher, writeHalvesImage } from './distillation.testing';
import { readModelMetadata } from './io';
import { trainModel, type TrainEvent, type TrainModelOptions } from './train-model';

describe('trainModel (the train stage)', () => {
  let dir: string;
  let common: Omit<TrainModelOptions, 'out'>;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-train-model-'));
    await generateSynthDataset({ out: path.join(dir, 'data'), count: 60, seed: 5, size: 32, minAge: 20, maxAge: 29, defectRate: 0, duplicateRate: 0, ageDistribution: 'uniform' });
    common = {
      data: path.join(dir, 'data'),
      architecture: 'simple-cnn',
      task: { kind: 'classification', minAge: 20, maxAge: 29 },
      input: { size: 16, grayscale: true },
      training: { epochs: 1, batchSize: 16, workers: 1 },
      split: { train: 0.6, val: 0.4, test: 0 },
      backend: 'wasm',
      seed: 3,
    };
  }, 120_000);
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('commits a run folder whose files match the result: model, metadata, history and the injected charts', async () => {
    const out = path.join(dir, 'run');
    const events: TrainEvent[] = [];
    const phases = new Set<string>();
    const drawn: number[] = [];
    const result = await trainModel({
      ...common,
      out,
      configFile: path.join(dir, 'train.json'),
      drawCharts: async ({ history, labels }) => {
        drawn.push(history.length, labels.length);
        return [{ file: 'loss.png', data: new Uint8Array([1, 2, 3]) }];
      },
      onEvent: (e) => events.push(e),
      onProgress: (p) => phases.add(p.phase),
    });
    expect(result.out).toBe(out);
    expect(result.backend).toBe('wasm');
    expect(result.threads).toBe(1);
    expect(result.task.labels).toHaveLength(10);
    expect(drawn).toEqual([result.history.length, 10]);
    const names = ['model.json', 'weights.bin', 'agekit-model.json', 'history.json', path.join('plots', 'loss.png')];
    expect(result.files).toEqual(names.map((f) => path.join(out, f)));
    for (const file of result.files) await expect(fs.stat(file)).resolves.toBeTruthy();
    expect([...(await fs.readFile(path.join(out, 'plots', 'loss.png')))]).toEqual([1, 2, 3]);
    const history = JSON.parse(await fs.readFile(path.join(out, 'history.json'), 'utf8')) as Record<string, unknown>;
    expect(history).toEqual({ monitor: result.monitor, bestEpoch: result.bestEpoch, stoppedEarly: result.stoppedEarly, history: result.history });
    const metadata = await readModelMetadata(out);
    expect(metadata.parameters).toBe(result.parameters);
    expect(metadata.input).toMatchObject({ size: 16, channels: 1 });
    expect(metadata.training).toMatchObject({ data: common.data, splitSource: 'split', config: path.join(dir, 'train.json'), seed: 3 });
    // one event per epoch, after the backend, data and both prepared splits
    expect(events.map((e) => e.kind)).toEqual(['backend', 'data', 'prepared', 'prepared', 'epoch']);
    expect([...phases]).toEqual(expect.arrayContaining(['decode train', 'decode val', 'train']));
    // nothing but the run folder beside it (no staging left)
    expect((await fs.readdir(dir)).sort()).toEqual(['data', 'run']);
  }, 180_000);

  it('a chart that cannot be drawn costs the charts, not the run', async () => {
    const out = path.join(dir, 'no-charts');
    const result = await trainModel({
      ...common,
      out,
      drawCharts: async () => {
        throw new Error('no fonts');
      },
    });
    expect(result.chartsError).toBe('no fonts');
    expect((await fs.readdir(out)).sort()).toEqual(['agekit-model.json', 'cache', 'checkpoints', 'history.json', 'model.json', 'weights.bin']);
    await fs.rm(out, { recursive: true });
  }, 180_000);

  it('stopped by its signal after the first epoch: throws, and the previous run is left as it was', async () => {
    const out = path.join(dir, 'stopped');
    await fs.mkdir(out);
    await fs.writeFile(path.join(out, 'model.json'), 'previous');
    const controller = new AbortController();
    const run = trainModel({
      ...common,
      training: { ...common.training, epochs: 3 },
      out,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.kind === 'epoch') controller.abort(new Error('stopped by the test'));
      },
    });
    await expect(run).rejects.toThrow('stopped by the test');
    expect(await fs.readdir(out)).toEqual(['model.json']);
    expect(await fs.readFile(path.join(out, 'model.json'), 'utf8')).toBe('previous');
    expect((await fs.readdir(dir)).filter((name) => name.includes('stopped'))).toEqual(['stopped']);
    await fs.rm(out, { recursive: true });
  }, 180_000);

  it('distillation: trains on the teachers\' ages over the labelled split and the unlabelled folder, and records it', async () => {
    const teacher = path.join(dir, 'teacher');
    await saveLeftHalfTeacher(teacher, 8, { mean: 20, std: 10 });
    for (let i = 0; i < 3; i++) await writeHalvesImage(path.join(dir, 'faces', `${i}.png`), 12, 60 * i, 200);
    const distillation = { teachers: [teacher], labelWeight: 0.3, unlabelled: [path.join(dir, 'faces')] };
    for (const [task, training] of [
      [{ kind: 'regression', minAge: 20, maxAge: 29 }, {}],
      [{ kind: 'classification', minAge: 20, maxAge: 29 }, { labelDistribution: { sigma: 2 } }],
    ] as const) {
      const out = path.join(dir, `distilled-${task.kind}`);
      const events: TrainEvent[] = [];
      const result = await trainModel({ ...common, task, training: { ...common.training, ...training, distillation }, out, onEvent: (e) => events.push(e) });
      const event = events.find((e) => e.kind === 'distillation');
      expect(event).toMatchObject({ kind: 'distillation', teachers: [teacher], labelled: expect.any(Number), unlabelled: 3, failed: [] });
      const data = events.find((e) => e.kind === 'data');
      expect(event && event.kind === 'distillation' && data && data.kind === 'data' && event.labelled === data.train).toBe(true);
      expect(Number.isFinite(result.history[0].trainLoss)).toBe(true);
      const metadata = await readModelMetadata(out);
      expect(metadata.training).toMatchObject({ distillation: { teachers: [teacher], labelWeight: 0.3, flip: true, unlabelled: [path.join(dir, 'faces')] } });
      await fs.rm(out, { recursive: true });
    }
    // a classification student learns the distilled age through the label distribution only
    await expect(trainModel({ ...common, training: { ...common.training, distillation }, out: path.join(dir, 'no-ldl') })).rejects.toThrow(/labelDistribution/);
  }, 300_000);
});
