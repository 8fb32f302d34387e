import { readCsv } from '@agekit/dataset';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { decodeForMetrics } from '/work/main/apps/cli/src/explore/decode';
import { measureImage } from '@agekit/quality';
import { measureImage as oldMeasure } from '/tmp/h_old/quality_lib/metrics';
async function main() {
  const root = process.argv[3] ?? '/work/shared/data/utkface';
  const rows = (await readCsv(path.join(root, 'labels.csv'))).slice(0, Number(process.argv[2] ?? 2000));
  const files = rows.map((r) => path.join(root, r['file']));
  const imgs = [];
  for (const f of files) { try { imgs.push((await decodeForMetrics(readFileSync(f), f, { maxPixels: 1e8 })).image); } catch {} }
  // also 3-channel and 1-channel variants
  const more = imgs.slice(0, 300).flatMap((im) => { const n = im.width * im.height; const rgb = new Uint8Array(n * 3); const g = new Uint8Array(n); for (let i = 0; i < n; i++) { rgb[i*3]=im.data[i*4]; rgb[i*3+1]=im.data[i*4+1]; rgb[i*3+2]=im.data[i*4+2]; g[i]=im.data[i*4+1]; } return [{ ...im, channels: 3 as const, data: rgb }, { ...im, channels: 1 as const, data: g }]; });
  let bad = 0;
  for (const im of [...imgs, ...more]) { const a = JSON.stringify(measureImage(im)); const b = JSON.stringify(oldMeasure(im)); if (a !== b) { bad++; if (bad < 4) console.log('DIFF', a, b); } }
  console.log(`compared ${imgs.length + more.length}, differing ${bad}`);
  for (let rep = 0; rep < 3; rep++) { const c0 = process.cpuUsage(); for (const im of imgs) measureImage(im); const c = process.cpuUsage(c0); console.log('new measure ms/img', ((c.user + c.system) / 1000 / imgs.length).toFixed(3)); }
  const c0 = process.cpuUsage(); for (const im of imgs) oldMeasure(im); const c = process.cpuUsage(c0); console.log('old measure ms/img', ((c.user + c.system) / 1000 / imgs.length).toFixed(3));
}
main();
