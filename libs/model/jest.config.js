module.exports = {
  displayName: 'model',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  coverageDirectory: '../../coverage/libs/model',
};
