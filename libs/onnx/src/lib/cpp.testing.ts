// Test helper: the C++ example compiled once per spec file (it reads everything model-specific from a bundle).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCppExample, CPP_MAIN, findCppToolchain } from './cpp';

/** Compile the C++ example under `work`: the binary, or why it could not be built (no g++ or OpenCV). */
export function compileCppExampleForTests(work: string): { binary?: string; skipReason: string } {
  const found = findCppToolchain();
  if (!found.ok) return { skipReason: found.reason };
  mkdirSync(join(work, 'cpp'), { recursive: true });
  writeFileSync(join(work, 'cpp', 'main.cpp'), CPP_MAIN);
  const binary = join(work, 'agekit_predict');
  buildCppExample(join(work, 'cpp'), binary, found.toolchain);
  return { binary, skipReason: '' };
}
