import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateSynthDataset } from '@agekit/synth';
import { loadModel } from '@agekit/model';
import { loadFaceApiXception } from '@agekit/transfer';
import { main, type Io } from './main';

function capture(): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

describe('agekit-trainer transfer', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-transfer-'));
    await generateSynthDataset({ out: path.join(dir, 'data'), count: 60, seed: 9, size: 48, minAge: 20, maxAge: 29, defectRate: 0, duplicateRate: 0, ageDistribution: 'uniform' });
  }, 120_000);
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('exits 2 on usage errors', async () => {
    expect(await main(['transfer'], capture())).toBe(2);
    // the peers table moved to tools/bench/peers: the trainer no longer knows the command
    const peers = capture();
    expect(await main(['peers', '--data', dir], peers)).toBe(2);
    expect(peers.errors.join('\n')).toContain("unknown command 'peers'");
    const ft = capture();
    expect(await main(['transfer', '--config', path.join(dir, 'any.json'), '--fine-tune', 'entry_flow'], ft)).toBe(2);
    expect(ft.errors.join('\n')).toContain('--fine-tune must be none, all or one of exit_flow');
  });

  it('fine-tunes the exit flow on cached activations: kept only if it helps, other tasks start from the pretrained weights', async () => {
    const config = path.join(dir, 'finetune.json');
    await fs.writeFile(
      config,
      JSON.stringify({
        data: path.join(dir, 'data'),
        out: path.join(dir, 'ft'),
        tasks: [
          { name: 'reg', task: { kind: 'regression', minAge: 20, maxAge: 29 } },
          { name: 'years', task: { kind: 'classification', minAge: 20, maxAge: 29 } },
        ],
        head: { hidden: 8, dropout: 0.2 },
        training: { epochs: 2, batchSize: 16 },
        fineTune: { from: 'exit_flow', epochs: 2, batchSize: 16, learningRate: 0.001 },
        backend: 'wasm',
      }),
    );
    const io = capture();
    expect(await main(['transfer', '--config', config], io)).toBe(0);
    const log = io.errors.join('\n');
    expect(log).toContain('train: activations [14,14,128] computed');
    expect(log).toContain('train mirrored: activations [14,14,128] computed');
    expect(log).toMatch(/task reg: fine-tuning exit_flow \(269,184 backbone parameters\)/);
    expect(log).toMatch(/reg fine-tune epoch 2\/2/);
    const pretrained = await loadFaceApiXception();
    const layers = pretrained.layers.filter((l) => l.countParams() > 0);
    expect(layers.length).toBe(17);
    for (const name of ['reg', 'years']) {
      const { model, metadata } = await loadModel(path.join(dir, 'ft', name));
      const fineTune = (metadata.training as { fineTune: { kept: boolean; trainableBackboneParameters: number } }).fineTune;
      expect(fineTune.trainableBackboneParameters).toBe(269_184);
      for (const layer of layers) {
        const saved = model.getLayer(layer.name).getWeights();
        const same = layer.getWeights().every((w, i) => Array.from(w.dataSync()).every((v, j) => v === saved[i].dataSync()[j]));
        // entry and middle flow stay pretrained; the exit flow differs exactly when the fine-tuning was kept
        expect({ layer: layer.name, same }).toEqual({ layer: layer.name, same: /exit_flow/.test(layer.name) ? !fineTune.kept : true });
      }
      model.dispose();
    }
    pretrained.dispose();
  }, 180_000);

  it('trains an age-group-labels task (file,age_group labels CSV): the config takes its labels, the saved model its classes', async () => {
    // the synthetic faces relabelled with groups only (no ages), as the Indian actors' labels.csv is
    const groupsDir = path.join(dir, 'data-groups');
    await fs.cp(path.join(dir, 'data'), groupsDir, { recursive: true });
    const files = (await fs.readdir(groupsDir, { recursive: true })).filter((f) => f.endsWith('.png') || f.endsWith('.jpg')).sort();
    const rows = files.map((f) => `${f.split(path.sep).join('/')},${Number(f.split(path.sep)[0]) < 25 ? 'YOUNG' : 'OLD'}`);
    await fs.writeFile(path.join(groupsDir, 'labels.csv'), ['file,age_group', ...rows].join('\n') + '\n');
    const config = path.join(dir, 'groups.json');
    const task = { kind: 'age-group-labels', labels: ['YOUNG', 'OLD'], representativeAges: [22, 27] };
    await fs.writeFile(config, JSON.stringify({ data: groupsDir, out: path.join(dir, 'groups'), tasks: [{ name: 'groups', task }], head: { hidden: 8 }, training: { epochs: 2, batchSize: 16 }, split: { train: 0.5, val: 0.25, test: 0.25 } }));
    const io = capture();
    const code = await main(['transfer', '--config', config], io);
    expect({ code, errors: io.errors.filter((l) => l.startsWith('error')) }).toEqual({ code: 0, errors: [] });
    const { model, metadata } = await loadModel(path.join(dir, 'groups', 'groups'));
    expect(metadata.task).toMatchObject({ kind: 'age-group-labels', labels: ['YOUNG', 'OLD'] });
    // split here: the ratios are kept, so that `evaluate --split test` splits the data the same way again
    expect(metadata.training).toMatchObject({ seed: 42, split: { train: 0.5, val: 0.25, test: 0.25 } });
    const evaluation = capture();
    expect(await main(['evaluate', '--model', path.join(dir, 'groups', 'groups'), '--data', groupsDir, '--split', 'test', '--backend', 'wasm'], evaluation)).toBe(0);
    expect(evaluation.lines.join('\n')).toContain('test (split with seed 42)');
    expect(model.outputs[0].shape).toEqual([null, 2]);
    model.dispose();

    // labels are required with this kind: the config names the field
    await fs.writeFile(config, JSON.stringify({ data: groupsDir, out: path.join(dir, 'groups'), tasks: [{ name: 'groups', task: { kind: 'age-group-labels' } }] }));
    const bad = capture();
    expect(await main(['transfer', '--config', config], bad)).toBe(2);
    expect(bad.errors.join('\n')).toContain("missing required field 'labels'");
  }, 180_000);

  it('trains heads on cached backbone features and saves one model per task', async () => {
    const config = path.join(dir, 'transfer.json');
    await fs.writeFile(
      config,
      JSON.stringify({
        data: path.join(dir, 'data'),
        out: path.join(dir, 'out'),
        tasks: [
          { name: 'years', task: { kind: 'classification', minAge: 20, maxAge: 29 } },
          { name: 'reg', task: { kind: 'regression', minAge: 20, maxAge: 29 } },
        ],
        head: { hidden: 8, dropout: 0.2 },
        training: { epochs: 2, batchSize: 16 },
        backend: 'wasm',
      }),
    );
    const io = capture();
    expect(await main(['transfer', '--config', config], io)).toBe(0);
    expect(io.lines.join('\n')).toMatch(/years: 424,[0-9]{3} parameters \(backbone 420,192 \+ head/);
    expect(io.errors.join('\n')).toContain('features computed');
    const { model, metadata } = await loadModel(path.join(dir, 'out', 'years'));
    expect(metadata.architecture).toBe('faceapi-xception+dense');
    expect(metadata.input).toMatchObject({ size: 112, channels: 3, normalization: { std: [255, 255, 255] } });
    expect(metadata.parameters).toBe(model.countParams());
    expect(metadata.parameters).toBeLessThan(1_000_000);
    model.dispose();

    // a second run reads the feature cache
    const again = capture();
    expect(await main(['transfer', '--config', config], again)).toBe(0);
    expect(again.errors.join('\n')).toContain('features from cache');
  }, 120_000);
  it('train with a transfer config that names a resample config: resamples --data into OUT/dataset, trains into OUT/model, evaluate finds the model in OUT', async () => {
    const resample = path.join(dir, 'resample-recipe.json');
    await fs.writeFile(resample, JSON.stringify({ $schema: './schemas/resample.schema.json', seed: 3, ages: { min: 20, max: 29, binWidth: 5 }, target: { distribution: 'uniform' }, split: { train: 0.6, val: 0.2, test: 0.2 } }));
    const config = path.join(dir, 'recipe.json');
    await fs.writeFile(
      config,
      JSON.stringify({
        $schema: './schemas/transfer.schema.json',
        resample: 'resample-recipe.json',
        tasks: [{ name: 'age', task: { kind: 'regression', minAge: 20, maxAge: 29 } }],
        head: { hidden: 8, dropout: 0.2 },
        training: { epochs: 1, batchSize: 16 },
        backend: 'wasm',
      }),
    );
    const out = path.join(dir, 'recipe-out');
    const io = capture();
    expect(await main(['train', '--config', config, '--data', path.join(dir, 'data'), '--out', out], io)).toBe(0);
    expect(io.errors.join('\n')).toMatch(/resample: .*-> .*recipe-out\/dataset/);
    const resampled = await fs.readdir(path.join(out, 'dataset', 'resampled_dataset'));
    expect(resampled.sort()).toEqual(expect.arrayContaining(['test', 'train', 'val']));
    // the model was trained on the resampled folders (their split, not one made here)
    expect(io.errors.join('\n')).toMatch(/data: .*recipe-out\/dataset\/resampled_dataset \(split folders\)/);
    const { metadata, dir: modelDir, model } = await loadModel(out);
    model.dispose();
    expect(modelDir).toBe(path.join(out, 'model', 'age'));
    expect(metadata.task.kind).toBe('regression');
    const evaluation = capture();
    expect(await main(['evaluate', '--model', out, '--data', path.join(out, 'dataset', 'resampled_dataset'), '--split', 'test'], evaluation)).toBe(0);
    expect(evaluation.lines.join('\n')).toContain(path.join(out, 'model', 'age'));
  }, 240_000);
});
