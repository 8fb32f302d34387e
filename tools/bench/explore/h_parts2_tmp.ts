import { readCsv } from '@agekit/dataset';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { decodeForMetrics } from '/work/main/apps/cli/src/explore/decode';
import { measureImage, perceptualHash, laplacianVariance, opencvGray } from '@agekit/quality';
async function main() {
  const root = '/work/shared/data/utkface';
  const rows = (await readCsv(path.join(root, 'labels.csv'))).slice(0, 2000);
  const files = rows.map((r) => path.join(root, r['file']));
  const imgs = [];
  for (const f of files) imgs.push((await decodeForMetrics(readFileSync(f), f, { maxPixels: 1e8 })).image);
  const grays = imgs.map((im) => opencvGray(im.data, im.width, im.height, 4));
  const t = (name: string, fn: (i: number) => unknown) => { for (let rep = 0; rep < 2; rep++) { const c0 = process.cpuUsage(); for (let i = 0; i < imgs.length; i++) fn(i); const c = process.cpuUsage(c0); if (rep) console.log(name, ((c.user + c.system) / 1000 / imgs.length).toFixed(3)); } };
  t('measure', (i) => measureImage(imgs[i]));
  t('phash', (i) => perceptualHash(grays[i], imgs[i].width, imgs[i].height));
  t('lap', (i) => laplacianVariance(grays[i], imgs[i].width, imgs[i].height));
  t('gray', (i) => opencvGray(imgs[i].data, imgs[i].width, imgs[i].height, 4));
}
main();
