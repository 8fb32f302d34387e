import { reduceLeading } from './reduce-leading';
import type { WasmKernel } from './wasm-kernel';

/** Sum over leading axes without wasm's transpose (see reduceLeading); other reductions go to wasm's. */
export const sum: WasmKernel = { kernelName: 'Sum', mode: 'fast-path', kernelFunc: (args, context) => reduceLeading(args, context, 'Sum') };
