#!/usr/bin/env node
/**
 * Augmentation throughput, as a ratio to a reference measured in the same run.
 * Reference: sharp decode + JPEG encode of the same images (the least work any copy needs).
 * Usage: npx tsx libs/resample/bench/augment.ts [--images DIR] [--count N]
 * (default DIR: ../shared/data/utkface/images; skips with a message when it is absent)
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createRng, mapSettled } from '@agekit/dataset';
import { augmentImage, drawAugmentation } from '../src';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { images: { type: 'string' }, count: { type: 'string', default: '400' } } });
  const dir = path.resolve(values.images ?? path.join(__dirname, '../../../../shared/data/utkface/images'));
  if (!existsSync(dir)) {
    console.log(`skipped: ${dir} does not exist (give --images DIR)`);
    return;
  }
  const names = (await fs.readdir(dir)).filter((n) => /\.(jpe?g|png|webp)$/i.test(n)).sort().slice(0, Number(values.count));
  const images = await Promise.all(names.map((n) => fs.readFile(path.join(dir, n))));
  const rng = createRng(1);
  const params = images.map(() => drawAugmentation(rng));
  const rate = async (concurrency: number, fn: (b: Buffer, i: number) => Promise<unknown>): Promise<number> => {
    const start = performance.now();
    const results = await mapSettled(images, fn, { concurrency });
    if (results.some((r) => !r.ok)) throw new Error('a benchmark item failed');
    return images.length / ((performance.now() - start) / 1000);
  };
  const reference = (b: Buffer): Promise<Buffer> => sharp(b).jpeg({ quality: 95 }).toBuffer();
  const augment = (b: Buffer, i: number): Promise<unknown> => augmentImage(b, params[i]);
  await rate(2, augment); // warm-up
  console.log(`${images.length} images from ${dir}; sharp concurrency ${sharp.concurrency()}, UV_THREADPOOL_SIZE ${process.env['UV_THREADPOOL_SIZE'] ?? '4 (default)'}`);
  console.log('concurrency | reference img/s | augment img/s | augment / reference');
  for (const c of [1, 2, 4]) {
    const ref = await rate(c, reference);
    const aug = await rate(c, augment);
    console.log(`${String(c).padStart(11)} | ${ref.toFixed(0).padStart(15)} | ${aug.toFixed(0).padStart(13)} | ${(aug / ref).toFixed(2)}`);
  }
  const seq = await rate(1, augment);
  const par = await rate(4, augment);
  console.log(`augment speed-up from concurrency 4 over 1 (same run): ${(par / seq).toFixed(2)}x`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
