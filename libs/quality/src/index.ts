// Public API of @agekit/quality: metrics on decoded pixels, thresholds, checks and duplicate grouping.
export * from './lib/metrics';
export * from './lib/phash';
export * from './lib/duplicates';
export * from './lib/checks';
export * from './lib/thresholds';
export * from './lib/native';
