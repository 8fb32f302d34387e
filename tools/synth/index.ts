export * from './faces';
export * from './generate';
