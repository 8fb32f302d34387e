import { validateConfig, ConfigError, type Schema } from '@agekit/dataset';
import { DEFAULT_CANDIDATES, enhanceConfigSchema, resolveCandidates, type EnhanceConfig } from './config';

const validate = (value: unknown): EnhanceConfig => validateConfig<EnhanceConfig>(value, enhanceConfigSchema as Schema, 'enhance.json');

describe('enhance config', () => {
  it('fills defaults', () => {
    expect(validate({})).toEqual({ beamWidth: 1, jpegQuality: 95, concurrency: 2, threads: 0, candidates: {} });
  });

  it('accepts the default grid and rejects bad operations naming the field', () => {
    expect(() => validate({ candidates: DEFAULT_CANDIDATES })).not.toThrow();
    expect(() => validate({ candidates: { dark: [{ op: 'gamma', gamma: -1 }] } })).toThrow(ConfigError);
    expect(() => validate({ candidates: { dark: [{ op: 'sepia' }] } })).toThrow(/candidates\/dark\/0/);
    expect(() => validate({ candidates: { sharpness: [] } })).toThrow(/unknown field 'sharpness'/);
    expect(() => validate({ candidates: { noisy: [{ op: 'median', size: 4 }] } })).toThrow(ConfigError);
  });

  it('fills upscale minSide from the thresholds and defaults missing flags', () => {
    const grid = resolveCandidates({ low_resolution: [{ op: 'upscale', kernel: 'lanczos3' }] }, 128);
    expect(grid.low_resolution).toEqual([{ op: 'upscale', kernel: 'lanczos3', minSide: 128 }]);
    expect(grid.dark).toEqual(DEFAULT_CANDIDATES.dark);
  });
});
