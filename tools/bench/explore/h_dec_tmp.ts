import { readCsv } from '@agekit/dataset';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { createCanvas, Image } from 'canvas';
async function main() {
  const root = '/work/shared/data/utkface';
  const rows = (await readCsv(path.join(root, 'labels.csv'))).slice(0, 2000);
  const bytes = rows.map((r) => readFileSync(path.join(root, r['file'])));
  const cv = createCanvas(200, 200); const ctx = cv.getContext('2d');
  const t = (name: string, fn: (i: number) => unknown) => { for (let rep = 0; rep < 2; rep++) { const c0 = process.cpuUsage(); for (let i = 0; i < bytes.length; i++) fn(i); const c = process.cpuUsage(c0); if (rep) console.log(name, ((c.user + c.system) / 1000 / bytes.length).toFixed(3)); } };
  t('src only', (i) => { const im = new Image(); im.src = bytes[i]; return im.width; });
  t('src+draw', (i) => { const im = new Image(); im.src = bytes[i]; ctx.drawImage(im, 0, 0); });
  t('src+draw+getImageData', (i) => { const im = new Image(); im.src = bytes[i]; ctx.drawImage(im, 0, 0); return ctx.getImageData(0, 0, 200, 200).data; });
  t('src+draw+toBuffer raw', (i) => { const im = new Image(); im.src = bytes[i]; ctx.drawImage(im, 0, 0); return cv.toBuffer('raw'); });
  const im0 = new Image(); im0.src = bytes[0]; ctx.drawImage(im0, 0, 0);
  t('getImageData only', () => ctx.getImageData(0, 0, 200, 200).data);
  t('toBuffer raw only', () => cv.toBuffer('raw'));
}
main();
