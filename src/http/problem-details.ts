// RFC 9457 problem details for a rejection, with the RateLimit draft's problem types.

import type { Decision } from '../decision.js';

/** The media type of a problem details body. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem type for a client over its quota (the RateLimit draft's `quota-exceeded`). */
export const QUOTA_EXCEEDED = 'https://iana.org/assignments/http-problem-types#quota-exceeded';
/** Problem type for a server that cannot take the request now (`temporary-reduced-capacity`). */
export const TEMPORARY_REDUCED_CAPACITY = 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity';

/** A problem details object (RFC 9457) describing why a request was rejected. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly 'violated-policies': string[];
}

const DETAILS: Record<NonNullable<Decision['reason']>, string> = {
  limited: 'Too many requests: the rate limit is exhausted.',
  'queue-full': 'Too many requests: the rate limit is exhausted and its waiting queue is full.',
  timeout: 'Too many requests: the request waited for the rate limit and could not be served in time.',
  aborted: 'The request was cancelled while it waited for the rate limit.',
  'cost-exceeds-burst': 'The request costs more than the rate limit allows at once; it can never be served.',
  closed: 'The rate limiter is shutting down.',
  unavailable: 'The shared rate limit cannot be checked right now; try again shortly.',
  concurrency: 'Too many requests in flight: the concurrency limit is reached.',
};

/** The problem details body for a rejected decision answered with `status`. */
export function problemDetails(decision: Decision, status: number, policyName = decision.policy.name): ProblemDetails {
  const capacity = decision.reason === 'closed' || decision.reason === 'unavailable';
  return {
    type: capacity ? TEMPORARY_REDUCED_CAPACITY : QUOTA_EXCEEDED,
    title: capacity
      ? 'Service temporarily unable to serve the request'
      : 'Request cannot be satisfied as assigned quota has been exceeded',
    status,
    detail: DETAILS[decision.reason ?? 'limited'],
    'violated-policies': [policyName],
  };
}
