// Shared Jest settings for every project. ts-jest compiles TypeScript; path aliases come from tsconfig.base.json.
const { pathsToModuleNameMapper } = require('ts-jest');
const { compilerOptions } = require('./tsconfig.base.json');

module.exports = {
  testEnvironment: 'node',
  // the machine has 2 cores shared by parallel Nx tasks: generous per-test time, tight assertions
  testTimeout: 60_000,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/../../' }),
  testMatch: ['**/?(*.)+(spec|test).ts'],
  coverageReporters: ['text-summary', 'html'],
  reporters: ['default', require.resolve('./tools/scripts/jest-count-reporter.js')],
};
