module.exports = {
  displayName: 'tools',
  preset: '../jest.preset.js',
  rootDir: __dirname,
  moduleNameMapper: require('ts-jest').pathsToModuleNameMapper(require('../tsconfig.base.json').compilerOptions.paths, { prefix: '<rootDir>/../' }),
  coverageDirectory: '../coverage/tools',
  // tools/synth is its own project (synth) with its own tests
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/synth/'],
};
