import * as http from 'node:http';

// The HTTP plumbing of the age server (createAgeServer): JSON errors, a bounded body reader, and responses that never throw.

/** The JSON error body every non-2xx response carries. */
export interface ServeErrorBody {
  error: { code: string; message: string };
}

/** A refusal: its status, stable code, message and extra headers become the JSON error response. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const JSON_TYPE = 'application/json; charset=utf-8';

export function methodNotAllowed(allow: string): HttpError {
  return new HttpError(405, 'method-not-allowed', `use ${allow.replace(', ', ' or ')} here`, { Allow: allow });
}

export class BodyAbortedError extends Error {}

/** Read the body into memory, refusing (413) as soon as it passes maxBytes; the rest is never buffered. */
export function readBody(req: http.IncomingMessage, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(tooLarge(maxBytes, `Content-Length ${declared}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('close', onAborted);
      signal.removeEventListener('abort', onAborted);
      if (error) {
        chunks.length = 0;
        req.pause();
        reject(error);
      } else resolve(Buffer.concat(chunks, total));
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) finish(tooLarge(maxBytes, `more than ${maxBytes} bytes`));
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish();
    const onAborted = (): void => finish(new BodyAbortedError('request body aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.once('close', () => {
      if (!req.complete) onAborted();
    });
    signal.addEventListener('abort', onAborted, { once: true });
  });
}

export function tooLarge(maxBytes: number, what: string): HttpError {
  return new HttpError(413, 'body-too-large', `request body too large (${what}); the limit is ${maxBytes} bytes`, { Connection: 'close' });
}

export function send(res: http.ServerResponse, status: number, body: string, type: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(bytes.length), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : bytes);
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(value), JSON_TYPE, headers);
}

export function sendError(res: http.ServerResponse, error: HttpError): void {
  const body: ServeErrorBody = { error: { code: error.code, message: error.message } };
  sendJson(res, error.status, body, error.headers);
}
