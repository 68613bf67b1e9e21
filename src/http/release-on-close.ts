// Holds a concurrency permit for as long as the HTTP exchange lasts: released when the response closes.

import type { Permit } from '../concurrency/concurrency-limiter.js';
import { hasClosed } from './client-disconnect.js';

/** A Node `ServerResponse`, as far as this needs it: `close` once the exchange is over, and whether it already is. */
export interface ClosingResponse {
  readonly closed?: boolean;
  readonly destroyed?: boolean;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Releases `permit` when `response` emits `close`: after the response is finished, or when the
 * client went away first. A response already closed (the client left while the permit was being
 * acquired) releases it at once, so no permit outlives its request.
 */
export function releaseOnClose(response: ClosingResponse, permit: Permit): void {
  if (hasClosed(response)) {
    permit.release();
    return;
  }
  response.once('close', () => permit.release());
}
