import { existsSync } from 'node:fs';
import { DatasetError, readMetadataCsv, type MetadataRow } from '@agekit/dataset';

/** The metadata.csv columns the figures read: a file without one of them cannot be drawn. */
export const FIGURE_COLUMNS = ['id', 'label', 'age', 'width', 'height', 'laplacian_variance', 'mean_intensity', 'std_intensity', 'flags', 'error'] as const;

/** explore's metadata.csv through the contract's reader, with the visualize stage's hint when the file is missing. */
export async function readFigureMetadata(file: string): Promise<MetadataRow[]> {
  if (!existsSync(file)) throw new DatasetError(file, "not found (run 'agekit explore' first, or pass --out to the folder that holds csv/metadata.csv)");
  return readMetadataCsv(file, { required: FIGURE_COLUMNS });
}
