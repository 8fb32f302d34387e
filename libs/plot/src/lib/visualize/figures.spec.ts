import { ageDistribution, flagNames, reasonFor } from './figures';
import { emptyMetadataRow, type MetadataRow } from '@agekit/dataset';

const row = (over: Partial<MetadataRow>): MetadataRow => ({ ...emptyMetadataRow('x.jpg'), width: 10, height: 10, laplacianVariance: 1, meanIntensity: 1, stdIntensity: 1, ...over });

describe('visualize figures helpers', () => {
  it('counts every age between the youngest and the oldest, zeros included', () => {
    const d = ageDistribution([row({ age: 20 }), row({ age: 23 }), row({ age: 23 })]);
    expect(d).toEqual({ labels: ['20', '21', '22', '23'], values: [1, 0, 0, 2], numeric: true });
  });

  it('falls back to labels (natural order) when ages are missing', () => {
    const d = ageDistribution([row({ label: 'OLD' }), row({ label: 'MIDDLE' }), row({ label: 'OLD' })]);
    expect(d).toEqual({ labels: ['MIDDLE', 'OLD'], values: [1, 2], numeric: false });
  });

  it("orders the contract's flags in its column order (FLAG_NAMES), then the others alphabetically", () => {
    expect(flagNames([{ flags: ['zz_custom', 'grayscale', 'dark'] }, { flags: ['blurry', 'a_custom', 'duplicate'] }])).toEqual(['blurry', 'dark', 'grayscale', 'duplicate', 'a_custom', 'zz_custom']);
  });

  it("takes a flag's own reason from the reasons column", () => {
    expect(reasonFor({ reasons: 'blurry: Laplacian variance 3 < 100; grayscale: mean chroma 0 < 2' }, 'grayscale')).toBe('mean chroma 0 < 2');
    expect(reasonFor({ reasons: '' }, 'grayscale')).toBe('grayscale');
  });
});
