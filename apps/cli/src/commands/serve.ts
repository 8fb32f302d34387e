import { once } from 'node:events';
import { COMMON_OPTIONS, switchFlags, valueFlags, EXIT, failed, numberFlag, pathFlag, stringFlag, UsageError, wholeNumberFlag, type CliCommand, type CommandContext } from '../lib/command';
import type { ServeLimits } from '@agekit/face';

const MIB = 1024 * 1024;

/** The command, built once @agekit/face (loaded lazily, like every library the CLI uses) gives the default limits. */
export async function loadCommand(): Promise<CliCommand> {
  const { DEFAULT_SERVE_LIMITS } = await import('@agekit/face');
  return {
    usage: usage(DEFAULT_SERVE_LIMITS),
    // serve reads no dataset and writes no output: only --help of the common flags
    options: {
      help: COMMON_OPTIONS['help'],
      ...valueFlags('bundle', 'max-body-mb', 'max-pixels', 'timeout-ms', 'max-concurrent', 'max-queue'),
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      ...switchFlags('no-detect', 'quiet'),
    },
    run: (ctx) => run(ctx, DEFAULT_SERVE_LIMITS),
  };
}

const usage = (defaults: ServeLimits): string => `--bundle DIR [--port 8080] [--host 127.0.0.1] [--no-detect] [limits]

Serves until Ctrl-C (SIGINT) or SIGTERM, then finishes the requests in flight and exits 0.
  GET  /              the page: pick or drop a photo, see it with a box and an age per face
  POST /api/predict   body = the raw image bytes (JPEG, PNG or WebP, sniffed from the bytes); ?detect=0 treats
                      the image as one face crop. 200 {width,height,faces:[{box,score,expectedAge,top,group,label}]};
                      errors are JSON {error:{code,message}}: 400 bad image, 413 too big, 415 not an image, 404,
                      405, 408 timeout, 503 busy
  GET  /healthz       {status, active, queued, served}

flags:
  --bundle DIR          exported bundle (agekit-export / apps/exporter output: model.onnx, preprocess.json, labels.json)
  --port N              TCP port (default 8080; 0 = any free port, printed)
  --host ADDR           address to bind (default 127.0.0.1, this machine only)
  --no-detect           treat every image as one face crop by default (no face detector loaded until ?detect=1)
  --max-body-mb N       largest upload (default ${defaults.maxBodyBytes / MIB})
  --max-pixels N        largest image, width x height, checked from the header before decoding (default ${defaults.maxPixels})
  --timeout-ms N        per-request deadline, queueing included (default ${defaults.timeoutMs})
  --max-concurrent N    images analysed at once (default ${defaults.maxConcurrent})
  --max-queue N         requests waiting beyond those; more get 503 (default ${defaults.maxQueue})
  --quiet               no line per request`;

/** The limits given as flags (the server's defaults for the others). */
function limitsFromFlags(ctx: CommandContext): Partial<ServeLimits> {
  const mb = numberFlag(ctx, 'max-body-mb');
  if (mb !== undefined && !(mb > 0)) throw new UsageError(`--max-body-mb must be > 0 (got ${mb})`);
  return {
    maxBodyBytes: mb === undefined ? undefined : Math.floor(mb * MIB),
    maxPixels: wholeNumberFlag(ctx, 'max-pixels', 1),
    timeoutMs: wholeNumberFlag(ctx, 'timeout-ms', 1),
    maxConcurrent: wholeNumberFlag(ctx, 'max-concurrent', 1),
    maxQueue: wholeNumberFlag(ctx, 'max-queue', 0),
  };
}

/** Resolves on the first SIGINT or SIGTERM (and stops listening for them). */
async function nextStopSignal(): Promise<NodeJS.Signals> {
  const stop = new AbortController();
  const first = await Promise.race((['SIGINT', 'SIGTERM'] as const).map((name) => once(process, name, { signal: stop.signal }).then(() => name)));
  stop.abort();
  return first;
}

async function run(ctx: CommandContext, defaults: ServeLimits): Promise<number> {
  const bundleDir = pathFlag(ctx, 'bundle');
  if (!bundleDir) throw new UsageError('--bundle DIR is required (an exported bundle with model.onnx)');
  const port = wholeNumberFlag(ctx, 'port', 0, 65535) ?? 8080;
  const host = stringFlag(ctx, 'host') ?? '127.0.0.1';
  const limits = limitsFromFlags(ctx);
  const detect = !ctx.values['no-detect'];
  const quiet = Boolean(ctx.values['quiet']);

  // onnxruntime is loaded here so `agekit serve --help` and usage errors do not wait for it.
  const [{ createAgeServer, createPhotoAnalyzer }, { loadBundlePredictor }] = await Promise.all([import('@agekit/face'), import('@agekit/onnx')]);
  ctx.term.info(`loading ${bundleDir}${detect ? ' and the face detector' : ''} ...`);
  const analyzer = await createPhotoAnalyzer({ predictor: await loadBundlePredictor(bundleDir), detect });

  // A stray rejection anywhere must not take the server down: log it and keep serving.
  const onRejection = (reason: unknown): void => ctx.term.warn(`unhandled rejection (still serving): ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  process.on('unhandledRejection', onRejection);
  const server = createAgeServer({
    analyzer,
    limits,
    onLog: (line) => {
      if (!quiet) ctx.term.info(line);
    },
    onError: (error) => ctx.term.warn(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`),
  });
  const stopped = nextStopSignal();
  try {
    server.listen(port, host);
    await once(server, 'listening'); // rejects on an 'error' first
  } catch (error) {
    process.off('unhandledRejection', onRejection);
    await analyzer.dispose();
    const code = (error as NodeJS.ErrnoException).code;
    return failed(ctx, `cannot listen on ${host}:${port}: ${code === 'EADDRINUSE' ? 'the port is in use (try --port 0)' : (error as Error).message}`);
  }
  server.on('error', (error) => ctx.term.warn(`server error: ${error.message}`));
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}/`;
  ctx.term.info(`agekit serve: listening on ${url} (Ctrl-C to stop)`);
  ctx.term.result({ url, host, port: actualPort, bundle: bundleDir, detect });

  const signal = await stopped;
  ctx.term.info(`${signal}: closing (finishing requests in flight) ...`);
  // requests in flight get their deadline and a second more; idle keep-alive sockets go now
  const force = setTimeout(() => server.closeAllConnections(), (limits.timeoutMs ?? defaults.timeoutMs) + 1000);
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  clearTimeout(force);
  await analyzer.dispose();
  process.off('unhandledRejection', onRejection);
  ctx.term.info('closed');
  return EXIT.ok;
}
