// Loads the flowgate package under test by its name and exports map: from the run's snapshot (BENCH_FLOWGATE_SNAPSHOT) when set, else from this repository.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const snapshot = process.env.BENCH_FLOWGATE_SNAPSHOT;
const require = createRequire(snapshot ? join(snapshot, 'bench.cjs') : import.meta.url);

/** `require(specifier)` for 'flowgate', 'flowgate/express', 'flowgate/koa' or 'flowgate/nestjs' (the package's CommonJS build). */
export function loadFlowgate(specifier) {
  return require(specifier);
}
