import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

/** Test helper: a plain node:http client that never throws on HTTP errors. */
export interface ClientResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown;
}

export interface ClientRequest {
  method?: string;
  path: string;
  body?: Buffer | string;
  headers?: http.OutgoingHttpHeaders;
  /** Send the body in chunks of this size with Transfer-Encoding: chunked (no Content-Length). */
  chunkBytes?: number;
  agent?: http.Agent;
  /** Fail when the socket is idle this long (default 60 s). */
  timeoutMs?: number;
}

export function serverPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}

export function listen(server: http.Server, port = 0, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(serverPort(server));
    });
  });
}

export function request(port: number, options: ClientRequest): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
    const headers: http.OutgoingHttpHeaders = { ...options.headers };
    if (body && !options.chunkBytes) headers['content-length'] = String(body.length);
    const req = http.request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      // a response cut short (socket reset after the headers) must fail the request, not leave it pending for ever
      res.on('close', () => {
        if (!res.complete) reject(new Error(`${options.method ?? 'GET'} ${options.path}: response closed before its end`));
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = undefined;
        if (String(res.headers['content-type'] ?? '').startsWith('application/json')) json = JSON.parse(text);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    // no request of a test may hang: fail it with its name instead
    req.setTimeout(options.timeoutMs ?? 60_000, () => req.destroy(new Error(`${options.method ?? 'GET'} ${options.path}: no answer within ${options.timeoutMs ?? 60_000} ms`)));
    let responded = false;
    req.on('response', () => (responded = true));
    // A server that refuses a body early may reset the socket while we still write: only fail if no response came.
    req.on('error', (error) => {
      if (!responded) reject(error);
    });
    if (!body) {
      req.end();
      return;
    }
    if (!options.chunkBytes) {
      req.end(body);
      return;
    }
    const step = options.chunkBytes;
    let offset = 0;
    const pump = (): void => {
      while (offset < body.length) {
        const ok = req.write(body.subarray(offset, offset + step));
        offset += step;
        if (!ok) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

/**
 * Raw bytes to the server and everything it sends back until it closes the connection: for what an HTTP client cannot
 * send (malformed requests, a body that never finishes). `finish: false` keeps the connection open after `text`.
 */
export function rawExchange(port: number, text: string, options: { finish?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => (options.finish === false ? socket.write(text) : socket.end(text)));
    let reply = '';
    socket.on('data', (d) => (reply += d.toString()));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
  });
}
