// Gives an admitted request's tokens back when its response shows it should not count (skipSuccessfulRequests / skipFailedRequests).

import type { ServerResponse } from 'node:http';
import type { Decision } from '../decision.js';
import type { Limiter } from '../limiter.js';
import { hasClosed } from './client-disconnect.js';
import type { MaybePromise } from './http-options.js';

/** Which admitted requests give their tokens back once their response is over, validated. */
export interface OutcomeCounting<Req> {
  /** Requests whose response succeeded give their tokens back (e.g. only failed logins count). */
  readonly skipSuccessful: boolean;
  /** Requests whose response failed (or whose client went away first) give their tokens back. */
  readonly skipFailed: boolean;
  /** Whether a finished response succeeded: by default, a status below 400. */
  readonly wasSuccessful: (req: Req, res: ServerResponse) => MaybePromise<boolean>;
}

/** The default of `requestWasSuccessful`: a status below 400. */
export function statusBelow400(_req: unknown, res: ServerResponse): boolean {
  return res.statusCode < 400;
}

/**
 * Once `res` closes, gives the tokens of the admitted `decision` back to `limiter` when the
 * response's outcome is one that `counting` skips: succeeded (`wasSuccessful` says so of a finished
 * response) or failed (it says not, or the response never finished: the client went away, the
 * connection broke). A `wasSuccessful` that throws counts the request (the limit is never loosened by
 * a bug) and is reported as a process warning. A dry-run decision over the limit took nothing and
 * gives nothing back. Never throws, never rejects.
 */
export function countByOutcome<Req>(counting: OutcomeCounting<Req>, limiter: Limiter, decision: Decision, req: Req, res: ServerResponse): void {
  if (!decision.allowed || decision.wouldReject !== undefined || decision.cost === 0) return;
  const settle = (): void => {
    const finished = res.writableFinished;
    let outcome: MaybePromise<boolean>;
    try {
      outcome = finished ? counting.wasSuccessful(req, res) : false;
    } catch (error) {
      warn(error);
      return;
    }
    const refundIf = (succeeded: unknown): void => {
      if (typeof succeeded !== 'boolean') return warn(new TypeError(`returned ${String(succeeded)}, not a boolean`));
      if (succeeded ? counting.skipSuccessful : counting.skipFailed) limiter.refund(decision.key, decision.cost).catch(() => undefined);
    };
    // Any thenable (a promise of another library too), not only a native Promise.
    if (typeof (outcome as { then?: unknown } | null)?.then === 'function') Promise.resolve(outcome).then(refundIf, warn);
    else refundIf(outcome);
  };
  if (hasClosed(res)) settle();
  else res.once('close', settle);
}

/** Reports a `requestWasSuccessful` that failed: the request counted. */
function warn(error: unknown): void {
  const reason = error instanceof Error ? error.message : String(error);
  process.emitWarning(`flowgate: requestWasSuccessful failed (${reason}); the request counts against its limit`, 'FlowgateWarning');
}
