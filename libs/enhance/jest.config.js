module.exports = {
  displayName: 'enhance',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  coverageDirectory: '../../coverage/libs/enhance',
};
