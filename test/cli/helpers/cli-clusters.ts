// The ZooKeeper servers the CLI tests run against: the shared ones of scripts/test.sh, or private ones (ports 27300-27399).

import { sharedOrPrivateEnsemble, startCluster } from '../../zookeeper/helpers/cluster.js';

/** A server or ensemble for one test file; `stop()` stops it only if this file started it. */
export interface TestZooKeeper {
  readonly connect: string;
  stop(): void;
}

/** The shared ensemble (FLOWGATE_ZK_ENSEMBLE), or a private one on `base`. */
export function ensembleFor(name: string, base: number): TestZooKeeper {
  return sharedOrPrivateEnsemble(name, base);
}

/** The shared standalone server (FLOWGATE_ZK_STANDALONE), or a private one on `base`. */
export function standaloneFor(name: string, base: number): TestZooKeeper {
  const shared = process.env.FLOWGATE_ZK_STANDALONE;
  if (shared !== undefined && shared !== '') return { connect: shared, stop: () => undefined };
  return startCluster(name, 'standalone', base);
}
