/**
 * Pretrained age estimators against agekit, two modes:
 *
 *   npx tsx tools/bench/peers/main.ts table --data DIR [--model MODEL_DIR]... [--peers faceapi,gear] [--ensemble faceapi+MODEL_DIR]... [--json]
 *
 * the side-by-side accuracy table (table.ts; formerly `agekit-trainer peers`),
 *
 *   npx tsx tools/bench/peers/main.ts groups [--data ../shared/data/indian-actors] [--limit N] [--model DIR]... [--bundle DIR]...
 *
 * age-group accuracy on faces from another source after predict's detection + alignment (groups.ts), and
 *
 *   npx tsx tools/bench/peers/main.ts [parity] [--data ../shared/data/utkface/images] [--count 32] [--backend wasm|cpu]
 *
 * and `unlabelled --out DIR [--count 5000]`: copies a seeded sample of Indian-actors images outside the scored 500
 * (groups.ts unscoredRecords) for distillation's unlabelled faces, and
 *
 * an opt-in check on real face crops: the faceapi-xception Layers rebuild (@agekit/model) against face-api's own
 * AgeGenderNet forward pass (@vladmandic/face-api's Node build, weights decoded by tfjs), on the same tensors
 * (face-api's preprocessing: pad to square, bilinear resize to 112). Prints the largest |feature| and |age| differences
 * and both forward-pass times, measured in this process.
 * Parity skips (exit 0, with a message) when the data folder is absent.
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { decodeImage, exitCodeOf, integerFlag, StageOutputs, UsageError } from '@agekit/dataset';
import { initBackend } from '@agekit/runtime';
import { defaultFaceApiModelDir, FACEAPI_NORMALIZATION, loadFaceApiXception } from '@agekit/transfer';
import { padToSquareCentred } from './peers';
import { runGroupsTable, unscoredRecords } from './groups';
import { runPeersTable } from './table';
import { sharedPath } from '../shared-paths';

interface FaceApiModule {
  nets: { ageGenderNet: { loadFromWeightMap(map: tf.NamedTensorMap): void; faceFeatureExtractor: { forwardInput(input: unknown): tf.Tensor4D }; forwardInput(input: unknown): { age: tf.Tensor } } };
  toNetInput(input: tf.Tensor3D[]): Promise<unknown>;
}

async function listImages(dir: string, count: number): Promise<string[]> {
  const entries = (await fs.readdir(dir, { recursive: true })).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  const step = Math.max(1, Math.floor(entries.length / count));
  return entries.filter((_, i) => i % step === 0).slice(0, count).map((f) => path.join(dir, f));
}

async function parity(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { data: { type: 'string', default: sharedPath('data', 'utkface', 'images') }, count: { type: 'string', default: '32' }, backend: { type: 'string', default: 'wasm' } } });
  const exists = await fs.stat(values.data).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!exists) {
    process.stdout.write(`skipped: ${values.data} not found (this check needs real face crops)\n`);
    return;
  }
  await initBackend({ backend: values.backend as 'wasm' | 'cpu' });
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
  const manifestFile = path.join(defaultFaceApiModelDir(), 'age_gender_model-weights_manifest.json');
  const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  const bin = await fs.readFile(path.join(path.dirname(manifestFile), manifest[0].paths[0]));
  faceapi.nets.ageGenderNet.loadFromWeightMap(tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer, manifest[0].weights));

  const files = await listImages(values.data, Number(values.count));
  const images = await Promise.all(
    files.map(async (f) => {
      const img = await decodeImage(f, { channels: 3 });
      return tf.tensor3d(Float32Array.from(img.data), [img.height, img.width, 3]);
    }),
  );
  const backbone = await loadFaceApiXception();
  const ageNet = await loadFaceApiXception({ ageHead: true });

  // warm-up of both paths (kernel set-up) before timing
  tf.dispose(faceapi.nets.ageGenderNet.forwardInput(await faceapi.toNetInput(images.slice(0, 2))).age);
  tf.dispose(ageNet.predict(tf.zeros([2, 112, 112, 3])) as tf.Tensor);
  let t0 = performance.now();
  const input = await faceapi.toNetInput(images);
  const refFeatures = tf.mean(faceapi.nets.ageGenderNet.faceFeatureExtractor.forwardInput(input), [1, 2]).dataSync();
  const refAges = faceapi.nets.ageGenderNet.forwardInput(input).age.dataSync();
  const refMs = performance.now() - t0;

  t0 = performance.now();
  const x = tf.tidy(() => {
    const batch = tf.stack(images.map((img) => tf.image.resizeBilinear(padToSquareCentred(img), [112, 112], false, false)));
    return tf.div(tf.sub(batch, FACEAPI_NORMALIZATION.mean), FACEAPI_NORMALIZATION.std);
  });
  const features = (backbone.predict(x) as tf.Tensor).dataSync();
  const ages = (ageNet.predict(x) as tf.Tensor).dataSync();
  const mineMs = performance.now() - t0;

  let featureDiff = 0;
  let ageDiff = 0;
  let featureMax = 0;
  for (let i = 0; i < features.length; i++) {
    featureDiff = Math.max(featureDiff, Math.abs(features[i] - refFeatures[i]));
    featureMax = Math.max(featureMax, Math.abs(refFeatures[i]));
  }
  for (let i = 0; i < ages.length; i++) ageDiff = Math.max(ageDiff, Math.abs(ages[i] - refAges[i]));
  process.stdout.write(
    `${files.length} images from ${values.data}, backend ${values.backend}\n` +
      `512-d features: max |diff| ${featureDiff.toExponential(2)} (largest |feature| ${featureMax.toFixed(2)})\n` +
      `age output:     max |diff| ${ageDiff.toExponential(2)} years\n` +
      `time (features + age, each path after a warm-up): face-api ${refMs.toFixed(0)} ms, rebuild ${mineMs.toFixed(0)} ms (ratio ${(mineMs / refMs).toFixed(2)})\n` +
      `${featureDiff <= 1e-4 ? 'ok' : 'FAILED'}: tolerance 1e-4\n`,
  );
  if (featureDiff > 1e-4) process.exitCode = 1;
}

const USAGE = `usage: npx tsx tools/bench/peers/main.ts MODE [flags]
  table --data DIR [--model MODEL_DIR]... [--peers faceapi,gear] [--ensemble faceapi+MODEL_DIR]... [--json]
      the accuracy table of pretrained age estimators and agekit models side by side
  groups [--data ../shared/data/indian-actors] [--limit N] [--model DIR]... [--bundle DIR]... [--json]
      age-group accuracy on faces from another source, after predict's detection and alignment
  unlabelled --out DIR [--data DIR] [--limit 500] [--count 5000]
      copies a seeded sample of images outside the scored ones (distillation's unlabelled faces)
  [parity] [--data ../shared/data/utkface/images] [--count 32] [--backend wasm|cpu]
      the faceapi-xception rebuild against face-api's own forward pass
`;

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'help' || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  if (argv[0] === 'table' || argv[0] === 'groups') {
    const json = argv.includes('--json');
    const print = (line: string): void => void process.stdout.write(`${line}\n`);
    const err = (line: string): void => void process.stderr.write(`${line}\n`);
    // under --json the text lines go to stderr and stdout has the one JSON document
    const io = { out: json ? err : print, err, result: (value: unknown) => (json ? print(JSON.stringify(value)) : undefined) };
    process.exitCode = await (argv[0] === 'table' ? runPeersTable : runGroupsTable)(argv.slice(1), io);
    return;
  }
  if (argv[0] === 'unlabelled') {
    const { values } = parseArgs({ args: argv.slice(1), options: { data: { type: 'string' }, out: { type: 'string' }, limit: { type: 'string' }, count: { type: 'string' } } });
    if (!values.out) throw new UsageError('usage: unlabelled --out DIR [--data ../shared/data/indian-actors] [--limit 500 (the scored sample)] [--count 5000]');
    const scoredLimit = integerFlag(values, 'limit') ?? 500;
    const count = integerFlag(values, 'count') ?? 5000;
    const data = values.data ?? sharedPath('data', 'indian-actors');
    const records = await unscoredRecords(data, { scoredLimit, count });
    const out = values.out;
    // the folder appears whole or not at all (copied under a temporary name, then renamed); a folder that already
    // holds files is refused, not replaced
    await StageOutputs.write({ inputs: [data], folders: [{ path: out, replaceable: () => false, refusal: 'already holds files: remove it or choose another --out' }] }, async (outputs) => {
      const dir = outputs.path(out);
      for (const r of records) await fs.copyFile(r.file, path.join(dir, path.basename(r.file)), fsConstants.COPYFILE_EXCL);
    });
    process.stdout.write(`${records.length} images outside the scored ${scoredLimit} copied to ${values.out}\n`);
    return;
  }
  await parity(argv[0] === 'parity' ? argv.slice(1) : argv);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = exitCodeOf(error);
});
