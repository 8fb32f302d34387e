import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

/** How to find and check one of agekit's optional native addons (quality's explore engine, runtime's kernels). */
export interface NativeAddonSpec {
  /** File name of the built addon, e.g. 'agekit_quality.node'. */
  file: string;
  /** The library's folder name under libs/ ('quality', 'runtime'): the addon is built into libs/<lib>/native/build/Release. */
  lib: string;
  /** The library's own directory (its `__dirname`): the search walks up from here. */
  from: string;
  /** Environment variable holding an explicit path to the addon. */
  pathEnv: string;
  /** Environment variable that, set to 1, pretends the addon is absent. */
  disableEnv: string;
  /** The ABI the wrapper speaks: the addon's exported `abi` must equal it. */
  abi: number;
  /** How to build it, for the "not found" reason (e.g. 'node tools/scripts/build-native.mjs runtime'). */
  buildHint: string;
  /** Shared libraries the addon links, for the "failed to load" reason (e.g. 'libdnnl.so.2, Debian: libdnnl2'). */
  requires?: string;
  /** Load the file (default: require); e.g. to set environment variables around the load. */
  load?: (require: () => unknown) => unknown;
}

export type NativeAddonResult<T> = { binding: T; file: string; reason?: undefined } | { binding?: undefined; file?: string; reason: string };

/**
 * Where the addon may be: the env override, else, from the library's folder upwards, native/build/Release (a build in
 * the workspace: sources in libs/<lib>/src/lib, compiled in dist/libs/<lib>/src/lib), prebuilds/<platform>-<arch> (the
 * prebuilt shipped in the npm package: node_modules/@agekit/<lib>/prebuilds, or a bundled app's own prebuilds folder)
 * and libs/<lib>/native/build/Release (a bundled app inside the workspace).
 */
export function nativeAddonCandidates(spec: Pick<NativeAddonSpec, 'file' | 'lib' | 'from' | 'pathEnv'>): string[] {
  const explicit = process.env[spec.pathEnv];
  if (explicit) return [path.resolve(explicit)];
  const list: string[] = [];
  let dir = spec.from;
  for (let depth = 0; depth < 10; depth++) {
    list.push(path.join(dir, 'native', 'build', 'Release', spec.file));
    list.push(path.join(dir, 'prebuilds', prebuildFolder(), spec.file));
    list.push(path.join(dir, 'libs', spec.lib, 'native', 'build', 'Release', spec.file));
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return list;
}

/** The prebuilds folder for this machine, e.g. 'linux-x64' (where tools/scripts/build-native.mjs puts its copy). */
export function prebuildFolder(): string {
  return `${process.platform}-${process.arch}`;
}

/** Find, load and ABI-check a native addon; never throws: a missing or broken addon comes back with the reason. */
export function loadNativeAddon<T extends { abi?: unknown }>(spec: NativeAddonSpec): NativeAddonResult<T> {
  if (process.env[spec.disableEnv] === '1') return { reason: `disabled by ${spec.disableEnv}=1` };
  const file = nativeAddonCandidates(spec).find((f) => existsSync(f));
  if (!file) {
    const explicit = process.env[spec.pathEnv];
    return {
      reason: explicit
        ? `${path.resolve(explicit)} (from ${spec.pathEnv}) not found`
        : `${spec.file} not found (build it with \`${spec.buildHint}\`; no prebuilt for ${prebuildFolder()} in @agekit/${spec.lib}; ` +
          `looked in native/build/Release and prebuilds/${prebuildFolder()} next to it and above)`,
    };
  }
  try {
    const requireIt = (): unknown => createRequire(__filename)(file);
    const binding = (spec.load ? spec.load(requireIt) : requireIt()) as T;
    if (binding.abi !== spec.abi) throw new Error(`ABI ${String(binding.abi)}, expected ${spec.abi} (rebuild it)`);
    return { binding, file };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { file, reason: `${file} failed to load: ${message}${spec.requires ? ` (it needs ${spec.requires})` : ''}` };
  }
}
