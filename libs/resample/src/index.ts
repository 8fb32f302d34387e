// Public API of @agekit/resample: target age distributions, resampling plans, seeded augmentation, validation.
export * from './lib/errors';
export * from './lib/distribution';
export * from './lib/plan';
export * from './lib/augment';
export * from './lib/select';
export * from './lib/validate';
export * from './lib/pipeline';
