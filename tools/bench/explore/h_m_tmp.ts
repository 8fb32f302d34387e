import { readCsv } from '@agekit/dataset';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { decodeForMetrics } from '/work/main/apps/cli/src/explore/decode';
import { measureImage } from '@agekit/quality';
async function main() {
  const root = '/work/shared/data/utkface';
  const rows = (await readCsv(path.join(root, 'labels.csv'))).slice(0, 2000);
  const files = rows.map((r) => path.join(root, r['file']));
  const imgs = [];
  for (const f of files) imgs.push((await decodeForMetrics(readFileSync(f), f, { maxPixels: 1e8 })).image);
  for (let rep = 0; rep < 4; rep++) { const c0 = process.cpuUsage(); for (const im of imgs) measureImage(im); const c = process.cpuUsage(c0); console.log('measure', ((c.user + c.system) / 1000 / imgs.length).toFixed(3)); }
}
main();
