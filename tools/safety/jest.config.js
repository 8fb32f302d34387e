module.exports = {
  displayName: 'safety',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  coverageDirectory: '../../coverage/tools/safety',
  // the specs run the built apps as child processes (dist/apps/*/main.js); their own timeouts are per test
  testTimeout: 180_000,
};
