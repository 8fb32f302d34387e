import { readCsv } from '@agekit/dataset';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { decodeForMetrics } from '/work/main/apps/cli/src/explore/decode';
import { measureImage, perceptualHash, laplacianVariance } from '@agekit/quality';
async function main() {
  const root = '/work/shared/data/utkface';
  const rows = (await readCsv(path.join(root, 'labels.csv'))).slice(0, Number(process.argv[2] ?? 2000));
  const files = rows.map((r) => path.join(root, r['file']));
  let c0 = process.cpuUsage();
  const bytes = files.map((f) => readFileSync(f));
  const ms = (c: NodeJS.CpuUsage) => ((c.user + c.system) / 1000 / files.length).toFixed(3);
  console.log('read', ms(process.cpuUsage(c0)));
  c0 = process.cpuUsage();
  const imgs = [];
  for (let i = 0; i < files.length; i++) imgs.push((await decodeForMetrics(bytes[i], files[i], { maxPixels: 1e8 })).image);
  console.log('decode', ms(process.cpuUsage(c0)));
  for (let rep = 0; rep < 3; rep++) {
  c0 = process.cpuUsage();
  for (const im of imgs) measureImage(im);
  console.log('measure', ms(process.cpuUsage(c0)));
  }
  const grays = imgs.map((im) => { const g = new Uint8Array(im.width * im.height); for (let i = 0; i < g.length; i++) g[i] = im.data[i * 4]; return g; });
  c0 = process.cpuUsage();
  for (let i = 0; i < imgs.length; i++) perceptualHash(grays[i], imgs[i].width, imgs[i].height);
  console.log('phash', ms(process.cpuUsage(c0)));
  c0 = process.cpuUsage();
  for (let i = 0; i < imgs.length; i++) laplacianVariance(grays[i], imgs[i].width, imgs[i].height);
  console.log('lap', ms(process.cpuUsage(c0)));
}
main();
