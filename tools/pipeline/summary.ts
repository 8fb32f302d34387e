#!/usr/bin/env node
/** Prints what the pipeline produced: counts from its CSVs, the model's metrics, and where to look. */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { metadataCsvPath, processingPaths, readCsv, readResamplingCsv, RESAMPLED_DATASET_DIR, RESAMPLING_CSV } from '@agekit/dataset';
import { readPipelineConfig } from './config';

async function countBy(file: string, column: string): Promise<Map<string, number> | undefined> {
  if (!existsSync(file)) return undefined;
  const counts = new Map<string, number>();
  for (const row of await readCsv(file)) counts.set(row[column] ?? '', (counts.get(row[column] ?? '') ?? 0) + 1);
  return counts;
}

const fmt = (m: Map<string, number>): string => [...m].map(([k, v]) => `${k || '(none)'} ${v}`).join(', ');

async function main(): Promise<void> {
  const workspace = path.resolve(__dirname, '../..');
  const cfg = await readPipelineConfig(workspace);
  const out = path.resolve(workspace, cfg.out);
  const rel = (p: string): string => path.relative(process.cwd(), p) || '.';
  console.log(`\n== agekit pipeline summary (dataset: ${cfg.data})`);
  const meta = metadataCsvPath(out);
  if (existsSync(meta)) {
    const rows = await readCsv(meta);
    const flagged = rows.filter((r) => r['flags']).length;
    const errors = rows.filter((r) => r['error']).length;
    console.log(`explore:   ${rows.length} images, ${flagged} flagged, ${errors} unreadable  -> ${rel(meta)}`);
  }
  const status = await countBy(processingPaths(out).processingCsv, 'status');
  if (status) console.log(`process:   ${fmt(status)}  -> ${rel(path.join(out, 'processed_dataset'))}`);
  const resampling = path.join(out, RESAMPLING_CSV);
  if (existsSync(resampling)) {
    const split = new Map<string, number>();
    for (const row of await readResamplingCsv(resampling)) split.set(row.split, (split.get(row.split) ?? 0) + 1);
    console.log(`resample:  ${fmt(split)}  -> ${rel(path.join(out, RESAMPLED_DATASET_DIR))}`);
  }
  const modelMeta = path.join(out, 'models', 'pipeline', 'agekit-model.json');
  if (existsSync(modelMeta)) {
    const m = JSON.parse(await fs.readFile(modelMeta, 'utf8')) as { architecture?: string; task?: unknown; params?: number; metrics?: Record<string, unknown> };
    console.log(`train:     ${JSON.stringify({ architecture: m.architecture, params: m.params, metrics: m.metrics })}`);
  }
  const html = path.join(out, 'visualizations', 'index.html');
  if (existsSync(html)) console.log(`figures:   ${rel(html)}`);
  const bundle = path.join(out, 'dist', 'bundle');
  if (existsSync(path.join(bundle, 'model.onnx'))) console.log(`bundle:    ${rel(bundle)} (model.onnx, preprocess.json, labels.json, C++ example)`);
}

main().catch((error) => {
  console.error(`summary: ${(error as Error).message}`);
  process.exit(1);
});
