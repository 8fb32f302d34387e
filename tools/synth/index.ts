export * from './faces';
export * from './generate';
export { maxRelativeDifference, type Values } from './compare';
