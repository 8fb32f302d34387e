import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage, encodeImage, type PixelImage } from '@agekit/dataset';
import { generateSynthDataset } from '@agekit/synth';
import { measureImage, type ImageMetrics } from './metrics';
import { loadNativeQuality, METRIC_NAMES, NATIVE_DISABLE_ENV, nativeMetricSlots, nativeQualityUnavailableReason, type NativeOutcome, type NativeQuality } from './native';

jest.setTimeout(120_000);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const disabled = process.env[NATIVE_DISABLE_ENV] === '1';

/** Every metric equal to within 1e-12 relative (they are in fact bit-equal; see the exact check) and the hashes identical. */
function expectSameMetrics(native: ImageMetrics, js: ImageMetrics, label: string): void {
  expect({ label, width: native.width, height: native.height, pixelHash: native.pixelHash, phash: native.phash }).toEqual({
    label,
    width: js.width,
    height: js.height,
    pixelHash: js.pixelHash,
    phash: js.phash,
  });
  for (const name of METRIC_NAMES) {
    const a = native[name];
    const b = js[name];
    const rel = Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
    if (!(a === b || rel <= 1e-12)) throw new Error(`${label}: ${name} native ${a} vs js ${b} (relative ${rel})`);
  }
}

/** The bit-for-bit check: the same doubles, not just close ones. */
function exactlyEqual(native: ImageMetrics, js: ImageMetrics): string[] {
  return METRIC_NAMES.filter((name) => !Object.is(native[name], js[name]));
}

/** A fast deterministic byte stream (xorshift32) for noise images. */
function noise(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) & 255;
  };
}

function image(width: number, height: number, channels: 1 | 3, fill: (i: number) => number): PixelImage {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = fill(i);
  return { width, height, channels, data };
}

if (disabled) {
  describe('native quality engine', () => {
    it(`is NOT tested: ${NATIVE_DISABLE_ENV}=1 is set, so the addon is deliberately not loaded (unset it to run the parity checks)`, () => {
      expect(loadNativeQuality()).toBeUndefined();
      expect(nativeQualityUnavailableReason()).toMatch(NATIVE_DISABLE_ENV);
    });
  });
} else {
  describe('native quality engine', () => {
    let nq: NativeQuality;
    let tmp: string;

    beforeAll(async () => {
      const loaded = loadNativeQuality();
      if (!loaded) {
        // no silent skip: a missing addon is a failure (set AGEKIT_NO_NATIVE=1 to test without it)
        throw new Error(`the native addon did not load: ${nativeQualityUnavailableReason()}. Build it with \`node tools/scripts/build-native.mjs\`, or set ${NATIVE_DISABLE_ENV}=1.`);
      }
      nq = loaded;
      tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-native-'));
    });

    afterAll(async () => {
      if (!tmp) return;
      await fs.chmod(path.join(tmp, 'locked.jpg'), 0o644).catch(() => undefined);
      await fs.rm(tmp, { recursive: true, force: true });
    });

    it('loads the addon (and AGEKIT_NO_NATIVE=1 turns it off)', () => {
      expect(nq.file).toMatch(/agekit_quality\.node$/);
      process.env[NATIVE_DISABLE_ENV] = '1';
      try {
        expect(loadNativeQuality()).toBeUndefined();
        expect(nativeQualityUnavailableReason()).toMatch(/disabled/);
      } finally {
        delete process.env[NATIVE_DISABLE_ENV];
      }
      expect(loadNativeQuality()).toBe(nq);
    });

    it('the engine names its metric slots: every numeric metric of the table but entropy (from its histogram), once', () => {
      expect([...nq.metricNames].sort()).toEqual(METRIC_NAMES.filter((m) => m !== 'entropy').sort());
      const { slots, perImage } = nativeMetricSlots(nq.metricNames);
      expect(perImage).toBe(nq.metricNames.length);
      for (const [name, slot] of slots) expect(nq.metricNames[slot]).toBe(name);
      // an engine built from older sources, without a metric of the table, is refused by name
      expect(() => nativeMetricSlots(nq.metricNames.filter((m) => m !== 'chromaMean'))).toThrow(/does not compute chromaMean/);
    });

    it('computes exactly what measureImage computes on the same pixels (odd sizes, extremes, noise, gray and colour)', () => {
      const rng = { int: noise(7) };
      const cases: Array<[string, PixelImage]> = [
        ['1x1 rgb', image(1, 1, 3, (i) => [200, 10, 99][i])],
        ['1x1 gray', image(1, 1, 1, () => 77)],
        ['1x9 rgb', image(1, 9, 3, () => rng.int())],
        ['9x1 gray', image(9, 1, 1, () => rng.int())],
        ['2x2 rgb', image(2, 2, 3, () => rng.int())],
        ['3x2 rgb', image(3, 2, 3, () => rng.int())],
        ['2x3 gray', image(2, 3, 1, () => rng.int())],
        ['3x3 rgb', image(3, 3, 3, () => rng.int())],
        ['all-0 rgb 50x40', image(50, 40, 3, () => 0)],
        ['all-255 rgb 40x50', image(40, 50, 3, () => 255)],
        ['all-0 gray 33x31', image(33, 31, 1, () => 0)],
        ['all-255 gray 31x33', image(31, 33, 1, () => 255)],
        ['noise rgb 640x480', image(640, 480, 3, () => rng.int())],
        ['noise gray 480x640', image(480, 640, 1, () => rng.int())],
        ['wide rows 2100x3 (Laplacian row chunks)', image(2100, 3, 3, () => rng.int())],
        ['gradient rgb 97x203', image(97, 203, 3, (i) => (i * 7) % 256)],
      ];
      for (const [label, img] of cases) {
        const js = measureImage(img);
        const native = nq.measurePixels(img);
        expectSameMetrics(native, js, label);
        expect({ label, entropy: native.entropy }).toEqual({ label, entropy: js.entropy });
        expect({ label, notBitEqual: exactlyEqual(native, js) }).toEqual({ label, notBitEqual: [] });
      }
      // repeated sizes go through a lazily filled table of entropy terms: still the same bits, on the first use and later
      for (let k = 0; k < 5; k++) {
        const img = image(23, 19, 3, () => rng.int());
        expect(exactlyEqual(nq.measurePixels(img), measureImage(img))).toEqual([]);
        const gray = image(23, 19, 1, () => rng.int());
        expect(exactlyEqual(nq.measurePixels(gray), measureImage(gray))).toEqual([]);
      }
      // percentile ranks on either side of a jump (lo and lo + 1 in bins far apart, interpolated between them),
      // for colour (keys selected from gathered bins) and gray (from the histogram); n = 10800: the 5th
      // percentile sits at rank 539.95, the 99th at 10691.01
      const jump = (channels: 1 | 3, dark: number, bright: number): PixelImage => {
        const n = 120 * 90;
        const level = new Uint8Array(n).fill(1); // 0 dark, 1 middle, 2 bright
        const order = Array.from({ length: n }, (_, i) => i);
        for (let i = n - 1; i > 0; i--) {
          const j = (rng.int() * 256 + rng.int()) % (i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
        order.slice(0, dark).forEach((i) => (level[i] = 0));
        order.slice(n - bright).forEach((i) => (level[i] = 2));
        return image(120, 90, channels, (i) => {
          const l = level[Math.floor(i / channels)];
          return l === 0 ? rng.int() % 4 : l === 1 ? 100 + (rng.int() % 40) : 230 + (rng.int() % 26);
        });
      };
      for (const channels of [1, 3] as const) {
        for (const [dark, bright] of [
          [540, 108],
          [539, 109],
          [541, 107],
          [0, 0],
          [10800, 0],
        ]) {
          const img = jump(channels, dark, bright);
          expect({ channels, dark, bright, notBitEqual: exactlyEqual(nq.measurePixels(img), measureImage(img)) }).toEqual({ channels, dark, bright, notBitEqual: [] });
        }
      }
      // every size from 1 to 70 on one side (thumbnail taps from 1 to 4, up- and downscaling) and some larger ones
      for (const [w, h] of [
        ...Array.from({ length: 70 }, (_, i): [number, number] => [i + 1, 70 - i]),
        [200, 200],
        [201, 333],
        [257, 64],
        [33, 1000],
      ]) {
        for (const channels of [1, 3] as const) {
          const img = image(w, h, channels, () => rng.int());
          const js = measureImage(img);
          const native = nq.measurePixels(img);
          expect({ w, h, channels, phash: native.phash, pixelHash: native.pixelHash, notBitEqual: exactlyEqual(native, js) }).toEqual({
            w,
            h,
            channels,
            phash: js.phash,
            pixelHash: js.pixelHash,
            notBitEqual: [],
          });
        }
      }
      // a large flat area (one brightness bin holding most pixels) with a little noise
      const flat = image(300, 200, 3, (i) => (i % 97 === 0 ? rng.int() : 128 + (i % 3)));
      expect(exactlyEqual(nq.measurePixels(flat), measureImage(flat))).toEqual([]);
      // RGBA: alpha ignored, as measureImage does
      const rgbaImage: PixelImage = { width: 17, height: 5, channels: 4, data: new Uint8Array(17 * 5 * 4).map(() => rng.int()) };
      expect(exactlyEqual(nq.measurePixels(rgbaImage), measureImage(rgbaImage))).toEqual([]);
    });

    it('reads and decodes JPEGs to the pixels sharp gives and measures them identically', async () => {
      const synth = path.join(tmp, 'synth');
      await generateSynthDataset({ out: synth, count: 12, seed: 3, size: 90, defectRate: 0.6 });
      const files = (await fs.readdir(synth, { recursive: true })).map(String).filter((f) => f.endsWith('.jpg')).map((f) => path.join(synth, f));
      const rng = { int: noise(11) };
      const extra: Array<[string, Buffer]> = [
        // 4:2:0 chroma (what cameras and UTKFace use: libjpeg's fancy upsampling) and 4:4:4
        ['noise-420.jpg', await sharp(Buffer.from(image(640, 480, 3, () => rng.int()).data), { raw: { width: 640, height: 480, channels: 3 } }).jpeg({ quality: 90 }).toBuffer()],
        ['face-like-420-odd.jpg', await sharp(Buffer.from(image(37, 23, 3, (i) => (i * 13) % 256).data), { raw: { width: 37, height: 23, channels: 3 } }).jpeg({ quality: 75 }).toBuffer()],
        ['gray.jpg', await encodeImage(image(45, 31, 1, () => rng.int()), 'jpeg', 90)],
        ['1x1.jpg', await encodeImage(image(1, 1, 3, (i) => [10, 200, 30][i]), 'jpeg', 95)],
        ['1x13.jpg', await encodeImage(image(1, 13, 3, () => rng.int()), 'jpeg', 95)],
        ['3x2.jpg', await encodeImage(image(3, 2, 3, () => rng.int()), 'jpeg', 95)],
        ['black.jpg', await encodeImage(image(20, 20, 3, () => 0), 'jpeg', 95)],
        ['white.jpg', await encodeImage(image(20, 20, 1, () => 255), 'jpeg', 95)],
      ];
      for (const [name, bytes] of extra) {
        await fs.writeFile(path.join(tmp, name), bytes);
        files.push(path.join(tmp, name));
      }
      const { outcomes, times } = await nq.measureFiles(files, { maxPixels: 50_000_000, threads: 2, timers: true });
      expect(outcomes).toHaveLength(files.length);
      expect(times.decodeSeconds).toBeGreaterThan(0);
      expect(times.metricsSeconds).toBeGreaterThan(0);
      for (let i = 0; i < files.length; i++) {
        const o = outcomes[i];
        expect({ file: files[i], status: o.status }).toEqual({ file: files[i], status: 'ok' });
        if (o.status !== 'ok') continue;
        const decoded = await decodeImage(files[i], { channels: 'keep' });
        expect({ file: files[i], channels: o.sourceChannels }).toEqual({ file: files[i], channels: decoded.channels });
        const js = measureImage(decoded);
        expectSameMetrics(o.metrics, js, files[i]);
        expect({ file: files[i], entropy: o.metrics.entropy, notBitEqual: exactlyEqual(o.metrics, js) }).toEqual({ file: files[i], entropy: js.entropy, notBitEqual: [] });
      }
      // the same outcomes whatever the number of threads (files are dealt round-robin)
      const one = await nq.measureFiles(files, { maxPixels: 50_000_000, threads: 1 });
      const three = await nq.measureFiles(files, { maxPixels: 50_000_000, threads: 3 });
      expect(three.outcomes).toEqual(outcomes);
      expect(one.outcomes).toEqual(outcomes);
      expect(one.times).toEqual({ readSeconds: 0, decodeSeconds: 0, metricsSeconds: 0 });
      // batches in flight at once write into separate (reused) output arrays
      const [again, reversed] = await Promise.all([
        nq.measureFiles(files, { maxPixels: 50_000_000, threads: 2 }),
        nq.measureFiles([...files].reverse(), { maxPixels: 50_000_000, threads: 2 }),
      ]);
      expect(again.outcomes).toEqual(outcomes);
      expect([...reversed.outcomes].reverse()).toEqual(outcomes);
    });

    it('leaves what it does not handle to the JS path and names read errors', async () => {
      const good = await encodeImage(image(64, 48, 3, (i) => (i * 31) % 256), 'jpeg', 90);
      const cases: Record<string, Buffer | undefined> = {
        'good.jpg': good,
        'truncated.jpg': good.subarray(0, Math.floor(good.length / 2)),
        'no-eoi.jpg': good.subarray(0, good.length - 2),
        'padded.jpg': Buffer.concat([good, Buffer.alloc(5)]),
        'empty.jpg': Buffer.alloc(0),
        'text.jpg': Buffer.from('this is not an image\n'),
        'image.png': await encodeImage(image(8, 8, 3, () => 128), 'png'),
        'rotated.jpg': await sharp(good).withMetadata({ orientation: 6 }).jpeg().toBuffer(),
        'cmyk.jpg': await sharp(good).toColourspace('cmyk').jpeg().toBuffer(),
        'large.jpg': await encodeImage(image(300, 200, 3, () => 90), 'jpeg', 80),
      };
      for (const [name, bytes] of Object.entries(cases)) if (bytes) await fs.writeFile(path.join(tmp, name), bytes);
      await fs.mkdir(path.join(tmp, 'folder.jpg'), { recursive: true });
      await fs.writeFile(path.join(tmp, 'locked.jpg'), good);
      await fs.chmod(path.join(tmp, 'locked.jpg'), 0o000);
      const names = [...Object.keys(cases), 'missing.jpg', 'folder.jpg', 'locked.jpg'];
      const { outcomes } = await nq.measureFiles(
        names.map((n) => path.join(tmp, n)),
        { maxPixels: 50_000, threads: 2 },
      );
      const byName = new Map<string, NativeOutcome>(names.map((n, i) => [n, outcomes[i]]));
      const status = (n: string): string => {
        const o = byName.get(n);
        return o?.status === 'failed' ? `failed ${o.reason}: ${o.detail}` : String(o?.status);
      };
      expect(status('good.jpg')).toBe('ok');
      expect(status('padded.jpg')).toBe('ok'); // zero padding after EOI is tolerated, as jpeg-header.ts does
      for (const n of ['truncated.jpg', 'no-eoi.jpg', 'empty.jpg', 'text.jpg', 'image.png', 'rotated.jpg', 'cmyk.jpg', 'large.jpg']) expect(`${n} ${status(n)}`).toBe(`${n} not-handled`);
      expect(status('missing.jpg')).toBe('failed not-found: no such file');
      expect(status('folder.jpg')).toBe('failed unreadable: is a directory');
      // root reads through chmod 000; then the file is simply measured
      expect(status('locked.jpg')).toBe(isRoot ? 'ok' : 'failed unreadable: permission denied');
      if (isRoot) console.warn('native.spec: running as root, where chmod 000 does not block reads: the permission-denied case is not checked here');
    });

    it('returns no outcomes for no files', async () => {
      expect((await nq.measureFiles([], { maxPixels: 1000, threads: 2 })).outcomes).toEqual([]);
    });
  });
}
