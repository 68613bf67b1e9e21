// A take for an HTTP request (a waiting one leaves the queue when its client goes away), and giving its tokens back when it is not served.

import type { Decision } from '../decision.js';
import type { Limiter } from '../limiter.js';
import { watchDisconnect, type Closable } from './client-disconnect.js';

/**
 * Takes `cost` tokens of `key` (at `priority` in the queue) for the request whose response is `response`. While the take waits
 * in the limiter's queue, a client that disconnects gives its place up at once; the result is then
 * `undefined`, as nobody is left to answer (and tokens it was granted as it left are given back).
 */
export async function takeWhileConnected(limiter: Limiter, key: string, cost: number, response: Closable, priority?: number): Promise<Decision | undefined> {
  const disconnect = limiter.queueing ? watchDisconnect(response) : undefined;
  try {
    const decision = await limiter.take(key, { cost, signal: disconnect?.signal, priority });
    if (disconnect?.signal.aborted !== true) return decision;
    // Admitted as the client left (a store call that could not be called off): give the tokens back
    // (in dry-run too, but not for a would-be rejection, which took none).
    if (decision.allowed && decision.wouldReject === undefined) await limiter.refund(key, cost).catch(() => undefined);
    return undefined;
  } finally {
    disconnect?.stop();
  }
}

/**
 * Gives back the tokens a request took from `limiter` (its `decision`) when it is not served after
 * all: a concurrency limit refused it, its permit store failed, or its client left. Nothing when
 * no rate limit was taken, nor for a dry-run decision marked `wouldReject` (it took nothing).
 * Never rejects.
 */
export function giveBack(limiter: Limiter | undefined, key: string, cost: number, decision: Decision | undefined): Promise<void> {
  return limiter === undefined || decision === undefined || decision.wouldReject !== undefined ? Promise.resolve() : limiter.refund(key, cost).catch(() => undefined);
}
