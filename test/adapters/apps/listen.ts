// Starts a plain Node HTTP server on 127.0.0.1 for a test app, and stops it with its open connections.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Limiter } from '../../../src/limiter.js';
import type { RunningApp } from './app-factory.js';

/** Listens with `listener` on a free port of 127.0.0.1; closing ends the connections, then the limiter. */
export async function listen(listener: http.RequestListener, limiter: Limiter): Promise<RunningApp> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hello`,
    limiter,
    async close() {
      await limiter.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
