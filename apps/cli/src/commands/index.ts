import type { CliCommand } from '../lib/command';

/**
 * Every `agekit` command in pipeline order (as `agekit --help` lists them), loaded lazily so `agekit --help` and each
 * stage start fast.
 * Add a stage by writing commands/<name>.ts exporting `command` and one line here.
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<CliCommand> }> = {
  // <commands>
  explore: { summary: 'measure image quality (OpenCV-compatible metrics, flags, duplicates) -> csv/metadata.csv', load: async () => (await import('./explore')).command },
  process: { summary: 'correct flagged images (quality-guarded) -> processed_dataset/ + csv/processing.csv', load: async () => (await import('./process')).command },
  visualize: { summary: 'figures (PNG) and index.html from csv/metadata.csv and csv/processing.csv', load: async () => (await import('./visualize')).command },
  resample: { summary: 'split, then rebalance the training split to a target age distribution', load: async () => (await import('./resample')).command },
  predict: { summary: 'ages of the faces in photos with an exported ONNX bundle (detect, align, predict; --annotate draws them)', load: async () => (await import('./predict')).command },
  serve: { summary: 'web demo: a page to upload a photo and see each face\'s age, and POST /api/predict (JSON)', load: async () => (await import('./serve')).loadCommand() },
};
