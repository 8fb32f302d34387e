import { readCsv } from '@agekit/dataset';
import * as path from 'node:path';
import { analyzeFile } from '/work/main/apps/cli/src/explore/analyze';
async function main() {
  const root = '/work/shared/data/utkface';
  const rows = (await readCsv(path.join(root, 'labels.csv'))).slice(0, Number(process.argv[2] ?? 2000));
  const files = rows.map((r) => path.join(root, r['file']));
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (const f of files) await analyzeFile(f, { maxPixels: 1e8, syncRead: true });
  const c = process.cpuUsage(c0);
  console.log(`${files.length} files: cpu ${((c.user + c.system) / 1000 / files.length).toFixed(3)} ms/img, wall ${((performance.now() - t0) / files.length).toFixed(3)} ms/img`);
}
main();
