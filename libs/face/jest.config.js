module.exports = {
  displayName: 'face',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  coverageDirectory: '../../coverage/libs/face',
};
