// The whole pipeline through imports alone: explore -> process -> visualize -> resample -> train (1 epoch) ->
// export -> predict. tools/scripts/pack-check.sh copies this file into a scratch project where the @agekit packages
// are installed from their tarballs (in the workspace the same imports resolve to the sources, so tsc checks it).
// Usage: node pipeline.js <faces folder (ages 20-29, folder per age)> <work folder>; prints one JSON line.
import * as path from 'node:path';
import { readDataset } from '@agekit/dataset';
import { processDataset } from '@agekit/enhance';
import { predictPhotos } from '@agekit/face';
import { loadModel, trainModel } from '@agekit/model';
import { describeAgekitModel, exportModel, loadBundlePredictor } from '@agekit/onnx';
import { visualizeDataset } from '@agekit/plot';
import { exploreDataset } from '@agekit/quality';
import { resampleDataset } from '@agekit/resample';

async function main(): Promise<void> {
  const [faces, work] = process.argv.slice(2).map((p) => path.resolve(p));
  const explored = await exploreDataset({ data: faces, out: work });
  const processed = await processDataset({ data: faces, out: work });
  const visualized = await visualizeDataset({ data: faces, out: work });
  const resampled = await resampleDataset({ out: work, seed: 1, ages: { min: 20, max: 29 }, target: { distribution: 'uniform' } });

  // the train stage picks the best backend present (wasm + native kernels here)
  const splits = path.join(work, 'resampled_dataset');
  const modelDir = path.join(work, 'model');
  const trained = await trainModel({
    data: splits,
    out: modelDir,
    architecture: 'simple-cnn',
    task: { kind: 'classification', minAge: 20, maxAge: 29 },
    input: { size: 32 },
    training: { epochs: 1, workers: 1 },
    seed: 1,
  });

  const testImages = (await readDataset(path.join(splits, 'test'))).records.map((r) => r.file);
  const { model, metadata } = await loadModel(modelDir);
  const exported = await exportModel({
    model,
    description: describeAgekitModel(metadata),
    sourceModel: modelDir,
    out: path.join(work, 'bundle'),
    verification: { data: path.join(splits, 'test'), minImages: 1 },
  });
  const verification = exported.verification;
  if (!verification) throw new Error('the export was not verified');
  model.dispose();
  // predict: @agekit/face's stage with the bundle's predictor injected (the images are face crops: no detection)
  const predicted = await predictPhotos({ paths: [testImages[0]], detect: false, loadPredictor: () => loadBundlePredictor(exported.bundle) });
  const prediction = predicted.results[0]?.ok ? predicted.results[0].faces[0] : undefined;
  console.log(
    JSON.stringify({
      explored: explored.read,
      processed: processed.images - processed.errors,
      figures: visualized.figures.length,
      resampled: resampled.written,
      trainedEpochs: trained.history.length,
      verified: verification.passed,
      maxAbsDiff: verification.tfjs.maxAbsDiff,
      predictedAge: prediction?.expectedAge ?? null,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
