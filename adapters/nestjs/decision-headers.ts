// The rate-limit headers of a request admitted by one or more limits.

import type { Decision } from '../../src/decision.js';
import { decisionHeaders } from '../../src/http/http-answer.js';
import type { ResolvedHttpOptions } from '../../src/http/http-options.js';

/** A limit's decision, with the options that render it. */
export interface RenderedDecision<Req> {
  readonly decision: Decision;
  readonly config: ResolvedHttpOptions<Req>;
}

/**
 * The headers for decisions of several limits. The draft-8 fields are lists, so each policy gets
 * its item (`RateLimit: "burst";r=4;t=1, "daily";r=99;t=864`); draft-7 has room for one policy:
 * the one with the fewest tokens left.
 */
export function combinedHeaders<Req>(decisions: readonly RenderedDecision<Req>[]): Record<string, string> {
  const [first] = decisions;
  if (first === undefined) return {};
  if (decisions.length === 1 || first.config.headers !== 'draft-8') {
    const tightest = decisions.reduce((a, b) => (b.decision.remaining < a.decision.remaining ? b : a));
    return decisionHeaders(tightest.decision, tightest.config);
  }
  const combined: Record<string, string> = {};
  for (const { decision, config } of decisions) {
    for (const [name, value] of Object.entries(decisionHeaders(decision, config))) {
      combined[name] = combined[name] === undefined ? value : `${combined[name]}, ${value}`;
    }
  }
  return combined;
}

/**
 * Two sets of headers in one: the draft's list fields (`RateLimit-Policy`, `RateLimit`) get the
 * items of both, any other field (`Retry-After`) is taken from `more` when it has it.
 */
export function mergeHeaders(base: Readonly<Record<string, string>>, more: Readonly<Record<string, string>>): Record<string, string> {
  const merged: Record<string, string> = { ...base };
  for (const [name, value] of Object.entries(more)) {
    const list = name === 'RateLimit-Policy' || name === 'RateLimit';
    merged[name] = list && merged[name] !== undefined ? `${merged[name]}, ${value}` : value;
  }
  return merged;
}
