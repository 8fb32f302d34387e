module.exports = {
  displayName: 'resample',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  coverageDirectory: '../../coverage/libs/resample',
};
