import { reduceLeading } from './reduce-leading';
import type { WasmKernel } from './wasm-kernel';

/** Mean over leading axes without wasm's transpose (see reduceLeading); other reductions go to wasm's. */
export const mean: WasmKernel = { kernelName: 'Mean', mode: 'fast-path', kernelFunc: (args, context) => reduceLeading(args, context, 'Mean') };
