import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig, validateConfig } from '@agekit/dataset';
import { DEFAULT_THRESHOLDS, qualityConfigSchema, type QualityConfig } from './thresholds';

describe('qualityConfigSchema', () => {
  it('fills every default into an empty config', () => {
    const config = validateConfig<QualityConfig>({}, qualityConfigSchema);
    expect(config.thresholds).toEqual(DEFAULT_THRESHOLDS);
    expect(config.layout).toBe('auto');
    expect(config.workers).toBe(0);
    expect(config.maxPixels).toBe(50_000_000);
  });

  it('keeps given thresholds and fills the rest', () => {
    const config = validateConfig<QualityConfig>({ thresholds: { blurryBelow: 80 } }, qualityConfigSchema);
    expect(config.thresholds.blurryBelow).toBe(80);
    expect(config.thresholds.minSide).toBe(100);
  });

  it('names the file and the field of a bad value or an unknown field', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-quality-config-'));
    const file = path.join(dir, 'quality.json');
    await fs.writeFile(file, JSON.stringify({ thresholds: { blurryBelow: 'high' } }));
    await expect(loadConfig(file, qualityConfigSchema)).rejects.toThrow(ConfigError);
    await expect(loadConfig(file, qualityConfigSchema)).rejects.toThrow(/quality\.json.*\/thresholds\/blurryBelow/);
    await fs.writeFile(file, JSON.stringify({ thresholds: { blury: 3 } }));
    await expect(loadConfig(file, qualityConfigSchema)).rejects.toThrow(/unknown field 'blury'/);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('configs/quality.json in the repository is valid and states the defaults', async () => {
    const config = await loadConfig<QualityConfig>(path.join(__dirname, '../../../../configs/quality.json'), qualityConfigSchema);
    expect(config.thresholds).toEqual(DEFAULT_THRESHOLDS);
  });
});
