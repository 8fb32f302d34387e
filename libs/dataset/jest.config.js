module.exports = {
  displayName: 'dataset',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  coverageDirectory: '../../coverage/libs/dataset',
};
