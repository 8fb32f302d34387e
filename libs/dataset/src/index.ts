// Public API of @agekit/dataset
export * from './lib/errors';
export * from './lib/rng';
export * from './lib/image';
export * from './lib/layouts';
export * from './lib/split';
export * from './lib/csv';
export * from './lib/csv-text';
export * from './lib/files';
export * from './lib/config';
export * from './lib/progress';
export * from './lib/native-addon';
