module.exports = {
  displayName: 'tools',
  preset: '../jest.preset.js',
  rootDir: __dirname,
  moduleNameMapper: require('ts-jest').pathsToModuleNameMapper(require('../tsconfig.base.json').compilerOptions.paths, { prefix: '<rootDir>/../' }),
  coverageDirectory: '../coverage/tools',
};
