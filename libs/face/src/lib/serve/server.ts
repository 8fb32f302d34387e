import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { decodeImage, ImageDecodeError, type PixelImage } from '@agekit/dataset';
import type { PhotoAnalyzer } from '../photo-analyzer';
import { QueueAbortedError, QueueFullError, resolveServeLimits, Semaphore, type ServeLimits } from './limits';
import { renderPage } from './page';
import { sniffUpload } from './sniff';
import { BodyAbortedError, HttpError, JSON_TYPE, methodNotAllowed, readBody, send, sendError, sendJson } from './http';

export interface AgeServerOptions {
  /** Turns a decoded photo into faces with ages (createPhotoAnalyzer). */
  analyzer: PhotoAnalyzer;
  limits?: Partial<ServeLimits>;
  /** One line per finished request: method, path, status (or 'aborted'), ms. */
  onLog?: (line: string) => void;
  /** An error no request handler expected (its client got a 500 'internal'); the server keeps serving. */
  onError?: (error: unknown) => void;
}

/**
 * The age server behind `agekit serve`, as a node:http Server (not yet listening): GET / (the page), POST
 * /api/predict (raw image bytes, optional ?detect=0|1), GET /healthz. Every failure is a JSON
 * {error:{code,message}}; no input can throw out of a handler. Call `.listen(port, host)` yourself.
 */
export function createAgeServer(options: AgeServerOptions): http.Server {
  const limits = resolveServeLimits(options.limits);
  const log = options.onLog ?? (() => undefined);
  const onError = options.onError ?? (() => undefined);
  const slots = new Semaphore(limits.maxConcurrent, limits.maxQueue);
  const server = http.createServer();
  const page = renderPage(limits);
  let served = 0;

  // Node's own guards sit behind ours, so a stuck socket can never outlive the request deadline by much.
  server.requestTimeout = limits.timeoutMs + 2000;
  server.headersTimeout = Math.min(limits.timeoutMs + 1000, 60_000);

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = performance.now();
    served++;
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    res.on('close', () => {
      const path = (req.url ?? '').split('?')[0].slice(0, 200);
      const status = res.headersSent ? res.statusCode : 0;
      log(`${req.method ?? '?'} ${path} ${status || 'aborted'} ${(performance.now() - started).toFixed(1)}ms`);
    });
    handle(req, res).catch((error: unknown) => {
      onError(error);
      sendError(res, new HttpError(500, 'internal', 'internal server error'));
    });
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // Malformed HTTP never reaches 'request'; answer in JSON if the socket is still usable, then drop it.
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({ error: { code: status === 408 ? 'timeout' : 'bad-request', message: `malformed request (${error.code ?? error.message})` } });
    if (socket.writable && !(socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    socket.destroy();
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return sendError(res, new HttpError(400, 'bad-url', 'the request URL cannot be parsed'));
    }
    const method = req.method ?? '';
    switch (url.pathname) {
      case '/':
      case '/index.html':
        if (method !== 'GET' && method !== 'HEAD') return sendError(res, methodNotAllowed('GET, HEAD'));
        return send(res, 200, page, 'text/html; charset=utf-8', { 'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src blob: data:; connect-src 'self'" });
      case '/healthz':
        if (method !== 'GET' && method !== 'HEAD') return sendError(res, methodNotAllowed('GET, HEAD'));
        return sendJson(res, 200, { status: 'ok', active: slots.active, queued: slots.queued, served, limits });
      case '/api/predict':
        if (method !== 'POST') return sendError(res, methodNotAllowed('POST'));
        return predict(req, res, url);
      default:
        return sendError(res, new HttpError(404, 'not-found', `no route ${url.pathname.slice(0, 100)}; try GET / or POST /api/predict`));
    }
  }

  async function predict(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const deadline = new AbortController();
    const timer = setTimeout(() => {
      deadline.abort();
      sendError(res, new HttpError(408, 'timeout', `no answer within ${limits.timeoutMs} ms`, { Connection: 'close' }));
    }, limits.timeoutMs);
    res.on('close', () => {
      clearTimeout(timer);
      deadline.abort(); // a client that went away frees its queue place
    });
    try {
      const detect = parseDetect(url.searchParams.get('detect'));
      const body = await readBody(req, limits.maxBodyBytes, deadline.signal);
      const sniffed = sniffUpload(body);
      if (!sniffed.ok) throw new HttpError(sniffed.status, sniffed.code, sniffed.message);
      let release: () => void;
      try {
        release = await slots.acquire(deadline.signal);
      } catch (error) {
        if (error instanceof QueueFullError) throw new HttpError(503, 'busy', `server busy: ${error.message}; retry later`, { 'Retry-After': '1' });
        throw error;
      }
      try {
        if (deadline.signal.aborted) return;
        const image = await decode(body, limits.maxPixels);
        if (deadline.signal.aborted) return;
        const result = await options.analyzer.analyze(image, detect === undefined ? undefined : { detect });
        sendJson(res, 200, { width: result.width, height: result.height, faces: result.faces });
      } finally {
        release();
      }
    } catch (error) {
      if (error instanceof QueueAbortedError || (error instanceof BodyAbortedError && deadline.signal.aborted)) return;
      if (error instanceof HttpError) return sendError(res, error);
      if (error instanceof BodyAbortedError) return; // the client hung up mid-body
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  return server;
}

function parseDetect(value: string | null): boolean | undefined {
  if (value === null) return undefined;
  if (value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new HttpError(400, 'bad-query', `detect must be 0 or 1 (got '${value.slice(0, 20)}')`);
}

async function decode(body: Buffer, maxPixels: number): Promise<PixelImage> {
  try {
    // decodeImage reads width x height from the header and refuses oversize images before decoding any pixel.
    return await decodeImage(body, { maxPixels, channels: 3, file: 'upload' });
  } catch (error) {
    if (error instanceof ImageDecodeError) {
      const detail = error.message.replace(/^upload: [a-z-]+: /, '');
      if (error.reason === 'too-large') throw new HttpError(413, 'too-many-pixels', `image too large: ${detail}`);
      throw new HttpError(400, 'undecodable', `the image cannot be decoded: ${detail}`);
    }
    throw new HttpError(400, 'undecodable', `the image cannot be decoded: ${(error as Error).message}`);
  }
}

