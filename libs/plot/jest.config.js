module.exports = {
  displayName: 'plot',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  coverageDirectory: '../../coverage/libs/plot',
};
