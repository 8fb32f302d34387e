// Public API of @agekit/model
export * from './lib/backend';
export * from './lib/kernels';
export * from './lib/gradients';
export * from './lib/architectures';
export * from './lib/tasks';
export * from './lib/metrics';
export * from './lib/images';
export * from './lib/evaluate';
export * from './lib/io';
export * from './lib/train';
export * from './lib/parallel';
export * from './lib/parallel-loss';
export { runParallelTrainWorker } from './lib/parallel-worker';
export * from './lib/dataset';
export * from './lib/backbones/faceapi-xception';
export * from './lib/backbones/transfer';
export * from './lib/backbones/finetune';
export * from './lib/backbones/peers';
