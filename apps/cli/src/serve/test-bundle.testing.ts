import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildModel, countParameters, defaultNormalization, loadModel, resolveTask, saveModel, type AgekitModelMetadata } from '@agekit/model';
import { initBackend } from '@agekit/runtime';

/**
 * For tests and the serve bench only: an untrained (seeded) simple-cnn age classifier (ages 1..80, 32x32 RGB), saved the
 * way the trainer saves and exported the way apps/exporter exports (loadModel -> describeAgekitModel -> writeBundle).
 * Returns the bundle folder (under os.tmpdir()). Its ages are meaningless; the pipeline around it is real.
 */
export async function exportTinyBundle(parent = mkdtempSync(join(tmpdir(), 'agekit-serve-'))): Promise<string> {
  await initBackend(); // also keeps tfjs quiet (no backend banner)
  const { describeAgekitModel, writeBundle } = await import('@agekit/onnx'); // loaded lazily, as the commands do
  const size = 32;
  const task = resolveTask({ kind: 'classification', minAge: 1, maxAge: 80 });
  const model = buildModel({ architecture: 'simple-cnn', size, channels: 3, classes: task.labels.length, head: 'classification', seed: 11 });
  const metadata: AgekitModelMetadata = {
    format: 'agekit-model',
    version: 1,
    architecture: 'simple-cnn',
    parameters: countParameters(model),
    task,
    input: { layout: 'NHWC', size, channels: 3, colour: 'rgb', resize: 'fill', normalization: defaultNormalization(3) },
    output: { kind: 'probabilities' },
    backend: tf.getBackend(),
    createdAt: new Date(0).toISOString(),
  };
  const modelDir = join(parent, 'model');
  await saveModel(model, modelDir, metadata);
  model.dispose();
  const loaded = await loadModel(modelDir);
  const out = join(parent, 'bundle');
  writeBundle({ model: loaded.model, description: describeAgekitModel(loaded.metadata), out, sourceModel: modelDir });
  loaded.model.dispose();
  return out;
}
