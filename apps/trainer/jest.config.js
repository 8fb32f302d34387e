module.exports = {
  displayName: 'trainer',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  coverageDirectory: '../../coverage/apps/trainer',
};
