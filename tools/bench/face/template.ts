/**
 * Opt-in measurement of UTKFACE_TEMPLATE (@agekit/face): runs our detector (face-api SSD MobileNet v1 + 68-point
 * landmarks) on UTKFace crops (already dlib-aligned, 200x200) and prints the mean and standard deviation of the
 * eye / nose / mouth positions, in crop pixels. The numbers in libs/face/src/lib/align.ts come from this script.
 *
 *   npx tsx tools/bench/face/template.ts [--data ../shared/data/utkface] [--count 200] [--pad 100]
 *
 * Each crop is pasted in the middle of a mid-grey canvas (--pad pixels on every side, default 100): SSD misses most
 * faces that fill the whole frame. Files are taken evenly spaced from the sorted list (deterministic). Skips (exit 0, with a message) when the data
 * folder is absent.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { decodeImage } from '@agekit/dataset';
import { initBackend } from '@agekit/runtime';
import { loadFaceDetector, type Point } from '@agekit/face';
import { sharedPath } from '../shared-paths';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string', default: sharedPath('data', 'utkface') }, count: { type: 'string', default: '200' }, pad: { type: 'string', default: '100' } } });
  const exists = await fs.stat(values.data).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!exists) {
    process.stdout.write(`skipped: ${values.data} not found (this measurement needs real UTKFace crops)\n`);
    return;
  }
  const count = Number(values.count);
  const pad = Number(values.pad);
  const all = (await fs.readdir(values.data, { recursive: true })).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  const step = Math.max(1, Math.floor(all.length / count));
  const files = all.filter((_, i) => i % step === 0).slice(0, count).map((f) => path.join(values.data, f));

  await initBackend({ backend: 'wasm' });
  const detector = await loadFaceDetector({ minScore: 0.5, maxFaces: 5 });
  const names = ['leftEye', 'rightEye', 'nose', 'mouth'] as const;
  const sums = Object.fromEntries(names.map((n) => [n, [0, 0, 0, 0]])) as Record<(typeof names)[number], number[]>;
  let used = 0, noFace = 0, wrongSize = 0, failed = 0;
  for (const file of files) {
    try {
      const img = await decodeImage(file, { channels: 3 });
      if (img.width !== 200 || img.height !== 200) {
        wrongSize++;
        continue;
      }
      const side = 200 + 2 * pad;
      const canvas = new Uint8Array(side * side * 3).fill(128);
      for (let y = 0; y < 200; y++) canvas.set(img.data.subarray(y * 600, (y + 1) * 600), ((y + pad) * side + pad) * 3);
      const faces = (await detector.detect({ width: side, height: side, channels: 3, data: canvas })).map((f) => ({
        ...f,
        box: { ...f.box, x: f.box.x - pad, y: f.box.y - pad },
        landmarks: Object.fromEntries(Object.entries(f.landmarks).map(([k, p]) => [k, [p[0] - pad, p[1] - pad]])) as unknown as typeof f.landmarks,
      }));
      if (faces.length === 0) {
        noFace++;
        continue;
      }
      // the crop's own face: the most central one
      const face = faces.reduce((best, f) => {
        const d = (g: typeof f) => Math.hypot(g.box.x + g.box.width / 2 - 100, g.box.y + g.box.height / 2 - 100);
        return d(f) < d(best) ? f : best;
      });
      used++;
      for (const n of names) {
        const p: Point = face.landmarks[n];
        const s = sums[n];
        s[0] += p[0];
        s[1] += p[1];
        s[2] += p[0] * p[0];
        s[3] += p[1] * p[1];
      }
    } catch (error) {
      failed++;
      process.stderr.write(`${file}: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  detector.dispose();
  process.stdout.write(`${files.length} crops from ${values.data} (padded by ${pad}): ${used} with a face, ${noFace} without, ${wrongSize} not 200x200, ${failed} unreadable\n`);
  if (used === 0) {
    process.exitCode = 1;
    return;
  }
  for (const n of names) {
    const [sx, sy, sxx, syy] = sums[n];
    const mx = sx / used, my = sy / used;
    const dx = Math.sqrt(Math.max(0, sxx / used - mx * mx)), dy = Math.sqrt(Math.max(0, syy / used - my * my));
    process.stdout.write(`${n.padEnd(9)} mean [${mx.toFixed(1)}, ${my.toFixed(1)}]  sd [${dx.toFixed(1)}, ${dy.toFixed(1)}]\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
