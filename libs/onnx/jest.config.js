module.exports = {
  displayName: 'onnx',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  setupFiles: ['<rootDir>/../../tools/jest/typed-array-realm.js'],
  coverageDirectory: '../../coverage/libs/onnx',
};
