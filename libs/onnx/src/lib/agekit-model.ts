import type { AgekitModelMetadata } from '@agekit/model';
import type { ExportModelDescription } from './bundle';
import type { ResizeKernel } from './preprocess';

/**
 * The export description of a model saved by @agekit/model (its agekit-model.json). @agekit/model resizes with sharp's
 * default kernel (lanczos3, fit 'fill') after a full decode and normalises x' = (x - mean) / std with x in 0..255.
 */
export function describeAgekitModel(metadata: AgekitModelMetadata, options: { resize?: ResizeKernel } = {}): ExportModelDescription {
  const classification = metadata.output.kind === 'probabilities';
  if (metadata.input.layout !== 'NHWC') throw new Error(`agekit-model.json: input layout ${String(metadata.input.layout)} is not NHWC`);
  return {
    name: metadata.architecture,
    task: classification ? 'classification' : 'regression',
    labels: classification ? [...metadata.task.labels] : [],
    labelAges: classification ? [...metadata.task.representativeAges] : [],
    regression: classification ? undefined : { scale: metadata.task.targetScale?.std ?? 1, offset: metadata.task.targetScale?.mean ?? 0 },
    input: {
      width: metadata.input.size,
      height: metadata.input.size,
      channels: metadata.input.channels,
      resize: options.resize ?? 'lanczos3',
      scale: 1,
      mean: [...metadata.input.normalization.mean],
      std: [...metadata.input.normalization.std],
    },
  };
}
