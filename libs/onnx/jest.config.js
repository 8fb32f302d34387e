module.exports = {
  displayName: 'onnx',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  setupFiles: ['<rootDir>/jest.setup.js'],
  coverageDirectory: '../../coverage/libs/onnx',
};
