// Maps a decision to an HTTP answer: the headers of every response, and the status and body of a rejection.

import type { Decision } from '../decision.js';
import type { MaybePromise, ResolvedHttpOptions } from './http-options.js';
import { PROBLEM_CONTENT_TYPE, problemDetails } from './problem-details.js';
import type { BucketPolicy } from '../policy.js';
import { limitHeaderValue, policyHeaderValue, rateLimitHeaders, retryAfterSeconds } from './rate-limit-headers.js';

/** The body of a rejection, ready to send. */
export interface RejectionBody {
  readonly contentType: string;
  readonly payload: string;
}

/** Headers for any response: the RateLimit fields, and `Retry-After` on a rejection that can succeed later. */
export function decisionHeaders<Req>(decision: Decision, options: ResolvedHttpOptions<Req>): Record<string, string> {
  const headers = rateLimitHeaders(decision, options.headers, options.policyName);
  const retryAfter = retryAfterSeconds(decision);
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  return headers;
}

/**
 * Headers of a concurrency decision alone: its draft-8 items (`RateLimit-Policy` and `RateLimit`),
 * and `Retry-After` when it rejected. Nothing of the draft for draft-7 or `headers: false`.
 */
export function permitHeaders<Req>(permits: Decision, options: ResolvedHttpOptions<Req>): Record<string, string> {
  const headers: Record<string, string> = {};
  if (options.headers === 'draft-8') {
    headers['RateLimit-Policy'] = concurrencyPolicyItem(options.concurrencyPolicyName, permits.limit);
    headers.RateLimit = concurrencyLimitItem(options.concurrencyPolicyName, permits);
  }
  const retryAfter = retryAfterSeconds(permits);
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  return headers;
}

/** Where headers go: a Node `ServerResponse`, or anything with its `setHeader`. */
export interface HeaderTarget {
  setHeader(name: string, value: string): unknown;
  /** Whether the response has sent its headers already (then nothing is written). */
  readonly headersSent?: boolean;
}

/**
 * Writes the headers of a request's decisions to a response. With a concurrency limit, `permits`
 * is its decision, and `decision` the rate limit's (absent when there is none).
 */
export interface HeaderWriter {
  (decision: Decision, target: HeaderTarget): void;
  (decision: Decision | undefined, target: HeaderTarget, permits: Decision): void;
}

/**
 * A writer of {@link decisionHeaders} for one adapter instance, for the hot path: the
 * `RateLimit-Policy` value, constant per policy, and the quoted policy name are built once, and
 * headers go straight to the response. A response that has sent its headers already (another
 * middleware flushed them) gets none: `headersSent` is read only when a write throws, since reading
 * that getter on every request costs more than the try. With a concurrency limit (draft-8 only:
 * draft-7 has room for one policy), each field gets a second item:
 * `"<name>";q=<max>;qu="concurrent-requests"` and `"<name>";r=<permits free>`.
 */
export function headerWriter<Req>(options: ResolvedHttpOptions<Req>): HeaderWriter {
  const format = options.headers;
  let policy: BucketPolicy | undefined;
  let policyValue = '';
  const limitPrefix = format === 'draft-8' ? limitHeaderValue.prefix(options.policyName) : '';
  const concurrency = options.concurrency;
  const permitPolicy = concurrency === undefined ? '' : concurrencyPolicyItem(options.concurrencyPolicyName, concurrency.max);
  const permitPrefix = limitHeaderValue.prefix(options.concurrencyPolicyName);
  const writeAll = (decision: Decision | undefined, target: HeaderTarget, permits?: Decision): void => {
    if (format !== false && decision !== undefined) {
      if (decision.policy !== policy) {
        policy = decision.policy;
        policyValue = policyHeaderValue(policy, format, options.policyName);
      }
      const limitValue = format === 'draft-8' ? limitPrefix + limitHeaderValue.params(decision) : limitHeaderValue(decision, format, options.policyName);
      if (permits === undefined || format !== 'draft-8') {
        target.setHeader('RateLimit-Policy', policyValue);
        target.setHeader('RateLimit', limitValue);
      } else {
        target.setHeader('RateLimit-Policy', `${policyValue}, ${permitPolicy}`);
        target.setHeader('RateLimit', `${limitValue}, ${permitPrefix}r=${permits.remaining}`);
      }
    } else if (format === 'draft-8' && permits !== undefined) {
      target.setHeader('RateLimit-Policy', permitPolicy);
      target.setHeader('RateLimit', `${permitPrefix}r=${permits.remaining}`);
    }
    const answered = permits !== undefined && (!permits.allowed || decision === undefined) ? permits : decision;
    const retryAfter = answered === undefined ? undefined : retryAfterSeconds(answered);
    if (retryAfter !== undefined) target.setHeader('Retry-After', String(retryAfter));
  };
  const write = (decision: Decision | undefined, target: HeaderTarget, permits?: Decision): void => {
    try {
      writeAll(decision, target, permits);
    } catch (error) {
      // Node's setHeader throws once headers are sent: nothing more to say on this response.
      if (target.headersSent !== true) throw error;
    }
  };
  return write as HeaderWriter;
}

/**
 * The draft-8 `RateLimit-Policy` item of a concurrency limit: `"<name>";q=<max>;qu="concurrent-requests"`
 * (no window: the quota is of requests at once, not per time).
 */
export function concurrencyPolicyItem(name: string, max: number): string {
  return `${limitHeaderValue.prefix(name)}q=${max};qu="concurrent-requests"`;
}

/** The draft-8 `RateLimit` item of a concurrency decision: `"<name>";r=<permits free>` (no `t`: permits come back when requests end). */
export function concurrencyLimitItem(name: string, permits: Decision): string {
  return `${limitHeaderValue.prefix(name)}r=${permits.remaining}`;
}

/** The status of a rejection: `statusCode` (429) over the limit, 503 when the limiter is closing or its store unreachable. */
export function rejectionStatus<Req>(decision: Decision, options: ResolvedHttpOptions<Req>): number {
  return decision.reason === 'closed' || decision.reason === 'unavailable' ? 503 : options.statusCode;
}

/** The body of a rejection: the `message` option when set, problem+json otherwise (naming the concurrency policy when it rejected). */
export async function rejectionBody<Req>(decision: Decision, options: ResolvedHttpOptions<Req>, req: Req): Promise<RejectionBody> {
  const message = typeof options.message === 'function' ? await options.message(req, decision) : options.message;
  if (message === undefined) {
    const byPermits = options.concurrency !== undefined && decision.policy === options.concurrency.bucketView;
    const problem = problemDetails(decision, rejectionStatus(decision, options), byPermits ? options.concurrencyPolicyName : options.policyName);
    return { contentType: PROBLEM_CONTENT_TYPE, payload: JSON.stringify(problem) };
  }
  if (typeof message === 'string') return { contentType: 'text/plain; charset=utf-8', payload: message };
  return { contentType: 'application/json; charset=utf-8', payload: JSON.stringify(message) };
}

/** The request's queue priority: `undefined` when the option is not given (no call made). */
export function requestPriority<Req>(options: ResolvedHttpOptions<Req>, req: Req): MaybePromise<number | undefined> {
  const { priority } = options;
  return typeof priority === 'function' ? priority(req) : priority;
}

/**
 * The key and cost of a request on an adapter's general path: those the fast path already asked
 * for (`given`, each perhaps a promise), or asked for now through {@link requestKeyAndCost}.
 */
export async function settledKeyAndCost<Req>(options: ResolvedHttpOptions<Req>, req: Req, given?: { key: unknown; cost: unknown }): Promise<{ key: string; cost: number }> {
  if (given === undefined) return requestKeyAndCost(options, req);
  // Both at once: when one rejects, the other's rejection is handled too (never unhandled).
  const [key, cost] = await Promise.all([given.key, given.cost]);
  return { key: bucketKey(key), cost: cost as number };
}

/**
 * A key function's answer as a bucket key: a finite number (a numeric user id) as its decimal
 * string; anything else as it is (the limiter refuses what is not a string).
 */
export function bucketKey(key: unknown): string {
  return (typeof key === 'number' && Number.isFinite(key) ? String(key) : key) as string;
}

/**
 * Handles the rejection of `value` if it is a promise nobody will await (a key asked for before the
 * cost function threw), so that it cannot end the process as an unhandled rejection.
 */
export function ignoreRejection(value: unknown): void {
  if (typeof value === 'object' && value !== null) Promise.resolve(value).catch(() => undefined);
}

/** Resolves the key and cost of a request through the adapter options (each may be async). */
export async function requestKeyAndCost<Req>(options: ResolvedHttpOptions<Req>, req: Req): Promise<{ key: string; cost: number }> {
  const key = bucketKey(await options.key(req));
  const cost = typeof options.cost === 'function' ? await options.cost(req) : options.cost;
  return { key, cost };
}
