module.exports = {
  displayName: 'exporter',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  // onnxruntime-node checks typed arrays with instanceof: share the process's constructors with the test realm
  setupFiles: ['<rootDir>/../../tools/jest/typed-array-realm.js'],
  coverageDirectory: '../../coverage/apps/exporter',
};
