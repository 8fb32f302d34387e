import { readCsv } from '@agekit/dataset';
import * as path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { decodeForMetrics } from '/work/main/apps/cli/src/explore/decode';
async function main() {
  const root = '/work/shared/data/utkface';
  const rows = (await readCsv(path.join(root, 'labels.csv'))).slice(0, 200);
  const bufs = [];
  for (const r of rows) { const f = path.join(root, r['file']); const im = (await decodeForMetrics(readFileSync(f), f, { maxPixels: 1e8 })).image; if (im.width === 200 && im.height === 200 && im.channels === 4) bufs.push(Buffer.from(im.data)); }
  writeFileSync('/tmp/h_mb/imgs.bin', Buffer.concat(bufs));
}
main();
