module.exports = {
  displayName: 'cli',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  // onnxruntime-node under jest: see the file
  setupFiles: ['<rootDir>/../../tools/jest/typed-array-realm.js'],
  coverageDirectory: '../../coverage/apps/cli',
};
