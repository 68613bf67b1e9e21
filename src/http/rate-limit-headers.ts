// The IETF RateLimit / RateLimit-Policy header fields (draft-8 and draft-7 forms) and Retry-After.

import type { Decision } from '../decision.js';
import type { BucketPolicy } from '../policy.js';

/** Which form of the IETF RateLimit header fields to send, or `false` for none. */
export type HeaderFormat = 'draft-8' | 'draft-7' | false;

/** The header formats an adapter accepts. */
export const HEADER_FORMATS: readonly HeaderFormat[] = ['draft-8', 'draft-7', false];

/**
 * The policy window in whole seconds: the time the bucket takes to refill from empty to full, so
 * that `q` tokens per `w` seconds is the sustained rate (at least 1).
 */
export function policyWindowSeconds(policy: BucketPolicy): number {
  return Math.max(1, ceilSeconds((policy.burst * policy.intervalMs) / policy.rate));
}

/**
 * The largest integer a Structured Field may carry (RFC 8941: at most 15 digits), about 31.7
 * million years in seconds: the cap of every seconds figure in these headers.
 */
export const MAX_HEADER_SECONDS = 999_999_999_999_999;

/**
 * Milliseconds to whole seconds, rounded up, ignoring floating-point dust (1000.0000000001 ms is
 * 1 s), and at most {@link MAX_HEADER_SECONDS}: a very slow refill (rate 1e-20 per second) is
 * still a valid integer, never `1e+300` nor 21 digits.
 */
function ceilSeconds(ms: number): number {
  return Math.min(MAX_HEADER_SECONDS, Math.ceil(ms / 1000 - 1e-9));
}

/** A Structured Field string: quoted, with `\` and `"` escaped. */
function sfString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The `RateLimit-Policy` and `RateLimit` header values for a decision.
 * - draft-8: `RateLimit-Policy: "<name>";q=<burst>;w=<seconds>` and `RateLimit: "<name>";r=<remaining>;t=<seconds until full>`
 * - draft-7: `RateLimit-Policy: <burst>;w=<seconds>` and `RateLimit: limit=<burst>, remaining=<r>, reset=<t>`
 */
export function rateLimitHeaders(decision: Decision, format: HeaderFormat, policyName = decision.policy.name): Record<string, string> {
  if (format === false) return {};
  return {
    'RateLimit-Policy': policyHeaderValue(decision.policy, format, policyName),
    RateLimit: limitHeaderValue(decision, format, policyName),
  };
}

/** The `RateLimit-Policy` value: the same for every decision of one policy, so callers may keep it. */
export function policyHeaderValue(policy: BucketPolicy, format: 'draft-8' | 'draft-7', policyName = policy.name): string {
  const w = policyWindowSeconds(policy);
  return format === 'draft-7' ? `${policy.burst};w=${w}` : `${sfString(policyName)};q=${policy.burst};w=${w}`;
}

/** The `RateLimit` value of one decision. */
export function limitHeaderValue(decision: Decision, format: 'draft-8' | 'draft-7', policyName = decision.policy.name): string {
  if (format === 'draft-7') return `limit=${decision.limit}, remaining=${decision.remaining}, reset=${ceilSeconds(decision.resetMs)}`;
  return limitHeaderValue.prefix(policyName) + limitHeaderValue.params(decision);
}

/** The draft-8 `RateLimit` value in two parts, so that the constant one is built once per policy. */
limitHeaderValue.prefix = (policyName: string): string => `${sfString(policyName)};`;
limitHeaderValue.params = (decision: Decision): string => `r=${decision.remaining};t=${ceilSeconds(decision.resetMs)}`;

/** `Retry-After` in whole seconds, rounded up (at least 1), for a rejection that can succeed later. */
export function retryAfterSeconds(decision: Decision): number | undefined {
  if (decision.allowed || decision.reason === 'cost-exceeds-burst' || decision.reason === 'aborted') return undefined;
  return Math.max(1, ceilSeconds(decision.retryAfterMs));
}
