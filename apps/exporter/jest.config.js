module.exports = {
  displayName: 'exporter',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  // onnxruntime-node checks typed arrays with instanceof: share the process's constructors with the test realm
  setupFiles: ['<rootDir>/jest.setup.js'],
  coverageDirectory: '../../coverage/apps/exporter',
};
