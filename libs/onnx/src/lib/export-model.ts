import type * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { listImageFiles, readDataset, StageOutputs } from '@agekit/dataset';
import { BUNDLE_ENTRIES, exportBundle, isBundleFolder, verifyBundle, type Bundle, type BundleManifest, type BundleVerification, type ExportModelDescription } from './bundle';
import type { ConvertResult, InputLayout } from './convert';
import type { CalibrationMethod, Int8Placement, ModelFormat } from './quantize';

/** Images a verification or a calibration reads (what sharp and onnx's preprocessing decode). */
const SAMPLED_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

/** Image files under `root` (never leaving it, links looped back skipped), sorted, at most `limit`, evenly spread. */
export async function sampleImageFiles(root: string, limit: number): Promise<string[]> {
  if (!existsSync(root)) throw new Error(`${root}: no such folder`);
  const { files } = await listImageFiles(root, { extensions: SAMPLED_EXTENSIONS, maxDepth: Infinity }).catch((error: Error) => {
    throw new Error(`${root}: ${error.message}`);
  });
  if (files.length <= limit) return files;
  return Array.from({ length: limit }, (_, i) => files[Math.floor((i * files.length) / limit)]);
}

/** True ages of `images` where the dataset under `root` gives them (NaN elsewhere); undefined when it gives none. */
async function agesOf(root: string, images: string[]): Promise<number[] | undefined> {
  try {
    const { records } = await readDataset(root);
    const byFile = new Map(records.map((r) => [resolve(r.file), r.age ?? Number.NaN]));
    const ages = images.map((f) => byFile.get(resolve(f)) ?? Number.NaN);
    return ages.some(Number.isFinite) ? ages : undefined;
  } catch {
    return undefined;
  }
}

/** How a bundle is verified on the images of a folder (see `verifyBundle`). */
export interface VerifyOnDataOptions {
  /** Images to verify on (any folder, searched recursively); their ages, when it is a labelled dataset, check the MAE change. */
  data: string;
  /** Use at most this many images, evenly spread over the sorted list (default 256). */
  images?: number;
  /** Fail with fewer readable images (default 64). */
  minImages?: number;
  /** Largest |onnx - tfjs| (default: DEFAULT_TOLERANCE of the bundle's format). */
  tolerance?: number;
  /** Largest |MAE(onnx) - MAE(tfjs)| in years on the images with known ages (default 0.1). */
  maxMaeChange?: number;
  /** Also build the C++ example and compare it with onnxruntime. */
  cpp?: boolean;
}

export interface StageProgress {
  phase: 'calibrate' | 'verify';
  done: number;
  total: number;
}

/** Verify `bundle` against the tfjs `model` on the images under `check.data`; `onVerifying` hears the image count first. */
export async function verifyBundleOnData(
  bundle: Bundle,
  model: tf.LayersModel,
  check: VerifyOnDataOptions,
  hooks: { onVerifying?: (images: number) => void; onProgress?: (progress: StageProgress) => void } = {},
): Promise<BundleVerification> {
  const data = resolve(check.data);
  const images = await sampleImageFiles(data, check.images ?? 256);
  hooks.onVerifying?.(images.length);
  return verifyBundle({
    bundle,
    model,
    images,
    ages: await agesOf(data, images),
    maxMaeChange: check.maxMaeChange ?? 0.1,
    tolerance: check.tolerance,
    minImages: check.minImages ?? 64,
    cpp: Boolean(check.cpp),
    onProgress: (done, total) => hooks.onProgress?.({ phase: 'verify', done, total }),
  });
}

/** A verification report as text lines (onnxruntime vs tfjs, MAE change, unreadable images, checker, C++). */
export function describeVerification(report: BundleVerification): string[] {
  const t = report.tfjs;
  const diff = `max |diff| = ${t.maxAbsDiff.toExponential(3)}, mean ${t.meanAbsDiff.toExponential(3)}, arg-max agreement ${(t.argmaxAgreement * 100).toFixed(1)}%`;
  return [
    `onnxruntime vs tfjs (${t.backend}): ${t.images} images, ${diff} -> ${t.passed ? 'ok' : `FAILED: ${t.failure}`}`,
    ...(t.mae ? [`MAE on ${t.mae.images} labelled images: tfjs ${t.mae.reference.toFixed(3)}, onnx ${t.mae.onnx.toFixed(3)} (change ${t.mae.change.toFixed(3)} years)`] : []),
    ...t.problems.map((p) => `  unreadable image ${p.file}: ${p.reason}`),
    `onnx checker: ${report.checker.status}: ${report.checker.message}`,
    ...(report.cpp ? [`C++ example vs onnxruntime: ${report.cpp.status}: ${report.cpp.message}`] : []),
  ];
}

/** A conversion as text lines: '<title>: ONNX opset, format, op counts', then quantization, folded and removed layers. */
export function describeConversion(title: string, converted: ConvertResult, manifest: BundleManifest): string[] {
  const q = manifest.quantization;
  const ops = Object.entries(converted.opCounts).map(([op, n]) => `${op} x${n}`);
  return [
    `${title}: ONNX opset ${converted.opset}, ${manifest.modelFormat ?? 'float32'}${manifest.testTimeFlip ? ', test-time flip in the graph' : ''}, ${ops.join(', ')}`,
    ...(q ? [`int8: calibrated on ${q.calibrationImages} images (${q.method}); placement ${JSON.stringify(q.placement)}; int8 ops ${JSON.stringify(q.int8Ops)}, float ops ${JSON.stringify(q.floatOps)}`] : []),
    ...(converted.foldedBatchNorms.length ? [`folded batch norms: ${converted.foldedBatchNorms.join(', ')}`] : []),
    ...(converted.removedLayers.length ? [`removed (identity at inference): ${converted.removedLayers.join(', ')}`] : []),
  ];
}

/** What `exportModel` reports while it runs, in order. */
export type ExportEvent = { kind: 'converted'; bundle: Bundle; converted: ConvertResult } | { kind: 'verifying'; bundle: Bundle; images: number };

export interface ExportModelOptions {
  /** The trained tfjs model (loaded by the caller: this library does not depend on @agekit/model at runtime). */
  model: tf.LayersModel;
  description: ExportModelDescription;
  /** The model's folder: an input (never written) and named in bundle.json. */
  sourceModel: string;
  /** The bundle folder: new, empty, or (with `force`) a previous bundle; written whole, and only once verified. */
  out: string;
  force?: boolean;
  inputLayout?: InputLayout;
  format?: ModelFormat;
  /** Test-time flip inside model.onnx: each output is the mean for the image and its left-right mirror. */
  testTimeFlip?: boolean;
  /** int8: calibrate the activation ranges on (at most `images`, default 256) images under `data`. */
  calibration?: { data: string; images?: number; method?: CalibrationMethod };
  /** int8: which kinds of node stay float (default: every node int8; see quantizeInt8's placement). */
  int8Placement?: Partial<Int8Placement>;
  /** How the bundle is verified before it is committed; false = not verified (committed as written). */
  verification: VerifyOnDataOptions | false;
  onProgress?: (progress: StageProgress) => void;
  onEvent?: (event: ExportEvent) => void;
  /** Stop early: nothing is written to `out`. */
  signal?: AbortSignal;
}

export interface ExportModelResult {
  /** The bundle folder (committed only when `committed`). */
  bundle: string;
  /** True when the bundle was verified (or verification was off) and moved to `out`. */
  committed: boolean;
  manifest: BundleManifest;
  converted: ConvertResult;
  verification?: BundleVerification;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('export: stopped');
}

/**
 * The export stage: convert the model to ONNX (quantized when asked), write the bundle under a temporary name,
 * verify it, and move it to `out` only when verified. An existing `out` is replaced only when it is a bundle and
 * `force` is set, so a user's folder is never emptied; a failed, stopped or unverified export leaves `out` as it was.
 */
export async function exportModel(options: ExportModelOptions): Promise<ExportModelResult> {
  const out = resolve(options.out);
  const sourceModel = resolve(options.sourceModel);
  const { verification, signal } = options;
  const data = verification ? resolve(verification.data) : undefined;
  if (data && !existsSync(data)) throw new Error(`${data}: no such folder (the verification images)`);
  const calibrationData = options.calibration && options.format === 'int8' ? resolve(options.calibration.data) : undefined;
  checkAborted(signal);
  const outputs = await StageOutputs.begin({
    inputs: [sourceModel, data, calibrationData],
    folders: [
      {
        path: out,
        replaceable: (existing) => Boolean(options.force) && isBundleFolder(existing),
        refusal: isBundleFolder(out)
          ? 'holds a bundle already: pass --force to replace it'
          : `is not empty and is not a bundle (only ${BUNDLE_ENTRIES.join(', ')}): refusing to replace it`,
      },
    ],
  });
  try {
    const calibration = calibrationData
      ? {
          images: await sampleImageFiles(calibrationData, options.calibration?.images ?? 256),
          method: options.calibration?.method,
          onProgress: (done: number, total: number) => options.onProgress?.({ phase: 'calibrate', done, total }),
        }
      : undefined;
    checkAborted(signal);
    const { bundle, converted } = await exportBundle({
      model: options.model,
      description: options.description,
      out: outputs.path(out),
      inputLayout: options.inputLayout,
      sourceModel,
      format: options.format,
      calibration,
      int8Placement: options.int8Placement,
      testTimeFlip: options.testTimeFlip,
    });
    options.onEvent?.({ kind: 'converted', bundle, converted });
    checkAborted(signal);
    const report = verification
      ? await verifyBundleOnData(bundle, options.model, verification, {
          onVerifying: (images) => options.onEvent?.({ kind: 'verifying', bundle, images }),
          onProgress: options.onProgress,
        })
      : undefined;
    checkAborted(signal);
    const committed = !report || report.passed;
    if (committed) await outputs.commit();
    return { bundle: out, committed, manifest: bundle.manifest, converted, verification: report };
  } finally {
    await outputs.abort(); // nothing once committed; else the unverified bundle goes and `out` stays as it was
  }
}
