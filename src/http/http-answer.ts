// Maps a decision to an HTTP answer: the headers of every response, and the status and body of a rejection.

import type { Decision } from '../decision.js';
import type { ResolvedHttpOptions } from './http-options.js';
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

/** Where headers go: a Node `ServerResponse`, or anything with its `setHeader`. */
export interface HeaderTarget {
  setHeader(name: string, value: string): unknown;
}

/**
 * A writer of {@link decisionHeaders} for one adapter instance, for the hot path: the
 * `RateLimit-Policy` value, constant per policy, and the quoted policy name are built once, and
 * headers go straight to the response.
 */
export function headerWriter<Req>(options: ResolvedHttpOptions<Req>): (decision: Decision, target: HeaderTarget) => void {
  const format = options.headers;
  let policy: BucketPolicy | undefined;
  let policyValue = '';
  const limitPrefix = format === 'draft-8' ? limitHeaderValue.prefix(options.policyName) : '';
  return (decision, target) => {
    if (format !== false) {
      if (decision.policy !== policy) {
        policy = decision.policy;
        policyValue = policyHeaderValue(policy, format, options.policyName);
      }
      target.setHeader('RateLimit-Policy', policyValue);
      target.setHeader('RateLimit', format === 'draft-8' ? limitPrefix + limitHeaderValue.params(decision) : limitHeaderValue(decision, format, options.policyName));
    }
    const retryAfter = retryAfterSeconds(decision);
    if (retryAfter !== undefined) target.setHeader('Retry-After', String(retryAfter));
  };
}

/** The status of a rejection: `statusCode` (429) over the limit, 503 when the limiter is closing or its store unreachable. */
export function rejectionStatus<Req>(decision: Decision, options: ResolvedHttpOptions<Req>): number {
  return decision.reason === 'closed' || decision.reason === 'unavailable' ? 503 : options.statusCode;
}

/** The body of a rejection: the `message` option when set, problem+json otherwise. */
export async function rejectionBody<Req>(decision: Decision, options: ResolvedHttpOptions<Req>, req: Req): Promise<RejectionBody> {
  const message = typeof options.message === 'function' ? await options.message(req, decision) : options.message;
  if (message === undefined) {
    const problem = problemDetails(decision, rejectionStatus(decision, options), options.policyName);
    return { contentType: PROBLEM_CONTENT_TYPE, payload: JSON.stringify(problem) };
  }
  if (typeof message === 'string') return { contentType: 'text/plain; charset=utf-8', payload: message };
  return { contentType: 'application/json; charset=utf-8', payload: JSON.stringify(message) };
}

/** Resolves the key and cost of a request through the adapter options (each may be async). */
export async function requestKeyAndCost<Req>(options: ResolvedHttpOptions<Req>, req: Req): Promise<{ key: string; cost: number }> {
  const key = await options.key(req);
  const cost = typeof options.cost === 'function' ? await options.cost(req) : options.cost;
  return { key, cost };
}
