module.exports = {
  displayName: 'tools',
  preset: '../jest.preset.js',
  rootDir: __dirname,
  moduleNameMapper: require('ts-jest').pathsToModuleNameMapper(require('../tsconfig.base.json').compilerOptions.paths, { prefix: '<rootDir>/../' }),
  coverageDirectory: '../coverage/tools',
  // tools/synth and tools/safety are their own projects with their own tests
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/synth/', '<rootDir>/safety/'],
};
