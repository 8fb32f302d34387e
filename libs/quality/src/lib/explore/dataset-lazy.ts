/**
 * @agekit/dataset loaded on first use. Explore worker processes decode most files with node-canvas and
 * measure with @agekit/quality, neither of which needs @agekit/dataset at run time; loading it (sharp,
 * ajv, csv) costs ~0.3 CPU-s per worker, so a worker pays for it only when a file takes the sharp path
 * or fails.
 */
import type * as Dataset from '@agekit/dataset';

type DatasetModule = typeof Dataset;

let module_: DatasetModule | undefined;

/**
 * A plain require (not import()): a TypeScript worker runs under tsx's CommonJS hook only (see
 * @agekit/dataset's worker-pool.ts), and a bundler inlines a literal require like an import. It requires
 * a local re-export, not '@agekit/dataset' itself: Nx would take that for a lazy-loaded library and
 * then forbid every static import of it.
 */
export function loadDataset(): DatasetModule {
  module_ ??= require('./dataset-module') as DatasetModule;
  return module_;
}

/** The module when already loaded (see loadDataset), else undefined. */
export function datasetIfLoaded(): DatasetModule | undefined {
  return module_;
}
