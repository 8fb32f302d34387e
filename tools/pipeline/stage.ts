#!/usr/bin/env node
/**
 * Runs one pipeline stage on the dataset named by configs/pipeline.json (Nx calls this from the
 * `pipeline` project's targets; see configs/project.json). Writes the demo dataset first when the
 * configured dataset is the embedded demo and is absent.
 * Usage: tsx tools/pipeline/stage.ts <explore|process|visualize|resample|train|export|prepare>
 * `prepare` only writes the demo dataset when it is absent: run before `nx run` (tools/demo.sh), so the dataset
 * fingerprint Nx hashes is taken of the images the stages will read (else a second run misses the cache).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { metadataCsvPath } from '@agekit/dataset';
import { generateSynthDataset } from '@agekit/synth';
import { readPipelineConfig, type PipelineConfig } from './config';

const workspace = path.resolve(__dirname, '../..');
const tsx = path.join(workspace, 'node_modules', 'tsx', 'dist', 'cli.mjs');

type StageArgs = (cfg: PipelineConfig, out: string) => { app: string; args: string[] };

const STAGES: Record<string, StageArgs> = {
  explore: (cfg, out) => ({ app: 'cli', args: ['explore', '--config', 'configs/quality.json', '--data', cfg.data, '--out', out] }),
  process: (cfg, out) => ({ app: 'cli', args: ['process', '--config', 'configs/enhance.json', '--data', cfg.data, '--out', out] }),
  visualize: (cfg, out) => ({ app: 'cli', args: ['visualize', '--config', 'configs/quality.json', '--data', cfg.data, '--out', out] }),
  resample: (cfg, out) => ({ app: 'cli', args: ['resample', '--config', 'configs/resample.json', '--metadata', metadataCsvPath(out), '--out', out, '--seed', String(cfg.seed)] }),
  train: (cfg, out) => ({
    app: 'trainer',
    args: ['train', '--config', 'configs/train.json', '--data', path.join(out, 'resampled_dataset'), '--out', path.join(out, 'models', 'pipeline'), '--seed', String(cfg.seed),
      ...(cfg.trainEpochs ? ['--epochs', String(cfg.trainEpochs)] : [])],
  }),
  // verified on the untouched test split: onnxruntime vs tfjs (<= 1e-4), onnx.checker, and the C++ example vs onnxruntime
  export: (_cfg, out) => ({
    app: 'exporter',
    args: ['export', '--model', path.join(out, 'models', 'pipeline'), '--out', path.join(out, 'dist', 'bundle'), '--data', path.join(out, 'resampled_dataset', 'test'), '--cpp', '--force'],
  }),
};

async function main(): Promise<number> {
  const stage = process.argv[2];
  if (!stage || !(stage in STAGES || stage === 'prepare')) {
    process.stderr.write(`usage: stage.ts <${[...Object.keys(STAGES), 'prepare'].join('|')}>\n`);
    return 2;
  }
  const cfg = await readPipelineConfig(workspace);
  const data = path.resolve(workspace, cfg.data);
  if (!existsSync(data)) {
    if (path.resolve(workspace, cfg.demo.folder) !== data) {
      process.stderr.write(`pipeline: dataset ${cfg.data} (configs/pipeline.json "data") does not exist\n`);
      return 1;
    }
    process.stderr.write(`pipeline: writing the synthetic demo dataset to ${cfg.demo.folder} (${cfg.demo.count} faces, seed ${cfg.demo.seed})\n`);
    await generateSynthDataset({ out: data, ...cfg.demo });
  }
  if (stage === 'prepare') return 0;
  const { app, args } = STAGES[stage](cfg, cfg.out);
  process.stderr.write(`pipeline: ${app} ${args.join(' ')}\n`);
  const result = spawnSync(process.execPath, [tsx, path.join(workspace, 'apps', app, 'src', 'main.ts'), ...args], {
    cwd: workspace,
    stdio: 'inherit',
  });
  return result.status ?? 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`pipeline: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
