/** Why an image could not be read. Stable strings: they end up in CSV `error` columns. */
export type ImageErrorReason =
  | 'not-found'
  | 'unreadable'
  | 'empty'
  | 'unsupported-format'
  | 'corrupt'
  | 'too-large';

/** A file that could not be decoded. Carries the file and a machine-readable reason. */
export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
  constructor(
    readonly file: string,
    readonly reason: ImageErrorReason,
    detail: string,
  ) {
    super(`${file}: ${reason}: ${detail}`);
  }
}

/** A configuration file that is missing, not JSON, or does not match its schema. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    /** JSON pointer of the offending field ('' for the whole file). */
    readonly field: string,
    detail: string,
  ) {
    super(`${file}${field ? ` (${field})` : ''}: ${detail}`);
  }
}

/** A dataset folder or labels file that cannot be read as any known layout. */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

/** One-line description of any thrown value, for error columns and summaries. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
