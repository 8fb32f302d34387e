// Jest reporter that records a project's pass/fail counts in coverage/<project>/test-counts.json,
// an Nx output of the test target, so cached runs still report their counts to tools/scripts/test-all.sh.
const fs = require('node:fs');
const path = require('node:path');

class CountReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }
  onRunComplete(_contexts, results) {
    const root = path.resolve(__dirname, '../..');
    const dir = path.join(root, 'coverage', path.relative(root, this.rootDir));
    fs.mkdirSync(dir, { recursive: true });
    const counts = {
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    fs.writeFileSync(path.join(dir, 'test-counts.json'), JSON.stringify(counts) + '\n');
  }
}
module.exports = CountReporter;
