// A take for an HTTP request: a request waiting in the queue leaves it when its client goes away.

import type { Decision } from '../decision.js';
import type { Limiter } from '../limiter.js';
import { watchDisconnect, type Closable } from './client-disconnect.js';

/**
 * Takes `cost` tokens of `key` (at `priority` in the queue) for the request whose response is `response`. While the take waits
 * in the limiter's queue, a client that disconnects gives its place up at once; the result is then
 * `undefined`, as nobody is left to answer.
 */
export async function takeWhileConnected(limiter: Limiter, key: string, cost: number, response: Closable, priority?: number): Promise<Decision | undefined> {
  const disconnect = limiter.queueing ? watchDisconnect(response) : undefined;
  try {
    const decision = await limiter.take(key, { cost, signal: disconnect?.signal, priority });
    return disconnect?.signal.aborted === true ? undefined : decision;
  } finally {
    disconnect?.stop();
  }
}
