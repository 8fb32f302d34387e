module.exports = {
  displayName: 'synth',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  coverageDirectory: '../../coverage/tools/synth',
};
