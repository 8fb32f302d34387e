import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadNativeAddon, nativeAddonCandidates, prebuildFolder, type NativeAddonSpec } from './native-addon';

describe('loadNativeAddon', () => {
  let dir: string;
  const PATH_ENV = 'AGEKIT_TEST_ADDON_PATH';
  const DISABLE_ENV = 'AGEKIT_TEST_ADDON_OFF';
  const spec = (): NativeAddonSpec => ({ file: 'agekit_test.node', lib: 'testlib', from: path.join(dir, 'a', 'b'), pathEnv: PATH_ENV, disableEnv: DISABLE_ENV, abi: 3, buildHint: 'make it' });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-addon-'));
  });
  afterEach(async () => {
    delete process.env[PATH_ENV];
    delete process.env[DISABLE_ENV];
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('looks next to the library, in its prebuilds for this platform, and in libs/<lib>/native of every folder above', () => {
    const list = nativeAddonCandidates(spec());
    expect(list[0]).toBe(path.join(dir, 'a', 'b', 'native', 'build', 'Release', 'agekit_test.node'));
    expect(list).toContain(path.join(dir, 'a', 'prebuilds', `${process.platform}-${process.arch}`, 'agekit_test.node'));
    expect(list).toContain(path.join(dir, 'libs', 'testlib', 'native', 'build', 'Release', 'agekit_test.node'));
    process.env[PATH_ENV] = 'x/y.node';
    expect(nativeAddonCandidates(spec())).toEqual([path.resolve('x/y.node')]);
  });

  it('says why when disabled, missing, broken or of another ABI, and loads a good one', async () => {
    expect(loadNativeAddon(spec())).toEqual({ reason: expect.stringContaining('not found (build it with `make it`') });

    // the installed-package layout: <package>/src/lib is where the code runs, <package>/prebuilds/<platform>-<arch> holds the addon
    const prebuilt = path.join(dir, 'a', 'prebuilds', prebuildFolder(), 'agekit_test.node');
    await fs.mkdir(path.dirname(prebuilt), { recursive: true });
    await fs.writeFile(prebuilt, 'not a shared object'); // found (Node dlopens .node files, so a stand-in cannot load)
    expect(loadNativeAddon(spec())).toEqual({ file: prebuilt, reason: expect.stringContaining(`${prebuilt} failed to load: `) });
    await fs.rm(path.join(dir, 'a', 'prebuilds'), { recursive: true });

    process.env[PATH_ENV] = path.join(dir, 'missing.node');
    expect(loadNativeAddon(spec()).reason).toBe(`${path.join(dir, 'missing.node')} (from ${PATH_ENV}) not found`);

    const broken = path.join(dir, 'broken.node');
    await fs.writeFile(broken, 'not a shared object');
    process.env[PATH_ENV] = broken;
    expect(loadNativeAddon(spec())).toEqual({ file: broken, reason: expect.stringMatching(/broken\.node failed to load: /) });
    expect(loadNativeAddon({ ...spec(), requires: 'libfoo.so.1' }).reason).toMatch(/broken\.node failed to load: .* \(it needs libfoo\.so\.1\)$/);

    // a CommonJS module stands in for a compiled addon (require loads both)
    const good = path.join(dir, 'good.js');
    await fs.writeFile(good, 'module.exports = { abi: 3, hello: () => "hi" };');
    process.env[PATH_ENV] = good;
    const loaded = loadNativeAddon<{ abi: number; hello: () => string }>(spec());
    expect(loaded.file).toBe(good);
    expect(loaded.binding?.hello()).toBe('hi');
    expect(loadNativeAddon({ ...spec(), abi: 4 }).reason).toMatch(/ABI 3, expected 4 \(rebuild it\)/);

    let around = 0;
    expect(loadNativeAddon({ ...spec(), load: (load) => (around++, load()) }).binding).toBeDefined();
    expect(around).toBe(1);

    process.env[DISABLE_ENV] = '1';
    expect(loadNativeAddon(spec())).toEqual({ reason: `disabled by ${DISABLE_ENV}=1` });
  });
});
