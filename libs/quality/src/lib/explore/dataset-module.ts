// @agekit/dataset, re-exported for dataset-lazy.ts to require on first use (a static import here, so the
// library counts as statically imported for the module-boundary rules; see dataset-lazy.ts).
export * from '@agekit/dataset';
