import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { emptyMetadataRow, METADATA_COLUMNS, writeCsv, writeMetadataCsv } from '@agekit/dataset';
import { FIGURE_COLUMNS, readFigureMetadata } from './metadata';

describe('readFigureMetadata', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-plot-metadata-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('names only columns of the metadata.csv contract', () => {
    expect(FIGURE_COLUMNS.filter((c) => !METADATA_COLUMNS.includes(c))).toEqual([]);
  });

  it('reads what explore writes, and says how to get a missing file or which figure columns a file lacks', async () => {
    const file = path.join(tmp, 'metadata.csv');
    await writeMetadataCsv(file, [{ ...emptyMetadataRow('30/a.jpg'), label: '30', age: 30, laplacianVariance: 12.5, flags: ['blurry', 'dark'] }]);
    const [row] = await readFigureMetadata(file);
    expect([row.id, row.age, row.laplacianVariance, row.flags]).toEqual(['30/a.jpg', 30, 12.5, ['blurry', 'dark']]);
    await expect(readFigureMetadata(path.join(tmp, 'none.csv'))).rejects.toThrow(/none\.csv.*run 'agekit explore' first/);
    const partial = path.join(tmp, 'partial.csv');
    await writeCsv(partial, [{ id: 'a.jpg', label: '30', age: 30 }]);
    await expect(readFigureMetadata(partial)).rejects.toThrow(/missing column\(s\) width, height, laplacian_variance/);
  });
});
