// The server variants measured against each other, in the order each round runs them.

/** `name` identifies a variant in results; `server` is its script under bench/servers/. */
export const VARIANTS = [
  { name: 'bare', label: 'no limiter (bare)', server: 'bare.mjs' },
  { name: 'flowgate', label: 'flowgate', server: 'flowgate.mjs' },
  { name: 'express-rate-limit', label: 'express-rate-limit', server: 'express-rate-limit.mjs' },
  { name: 'flowgate-queue', label: 'flowgate + queue', server: 'flowgate-queue.mjs' },
];

/** The variant every ratio is taken against. */
export const BASELINE = 'bare';
