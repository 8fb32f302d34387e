// jest setupFiles for projects that run onnxruntime-node (libs/onnx, apps/exporter, apps/cli): onnxruntime-node creates
// its output tensors with the process's typed-array constructors and checks them with
// `instanceof` in onnxruntime-common, which jest loads inside the test's own realm. Using the process's typed-array
// constructors in the test realm as well makes both sides agree (tfjs is unaffected: it sees one consistent set).
const { runInThisContext } = require('node:vm');

for (const name of ['ArrayBuffer', 'Float32Array', 'Float64Array', 'Int8Array', 'Int16Array', 'Int32Array', 'Uint8Array', 'Uint8ClampedArray', 'Uint16Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array']) {
  globalThis[name] = runInThisContext(name);
}
