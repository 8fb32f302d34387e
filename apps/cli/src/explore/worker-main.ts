// Entry of an explore worker process when the CLI runs from TypeScript sources (tsx): loads only what
// measuring needs. The bundled CLI forks itself instead (see commands/explore.ts).
import { runExploreWorker } from './worker';

if (process.send) void runExploreWorker();
