// The server variants measured against each other, by framework group, in the order each round runs them.

/**
 * A group is one framework: its variants are measured in the same rounds and compared with the
 * group's `baseline` (the bare framework). `name` picks the group in BENCH_GROUPS and names its
 * results file; in a variant, `name` identifies it in results, `server` is its script under
 * bench/servers/, `needs: 'redis'` marks one that runs against the run's redis-server, `floor: true` a
 * reference variant measured only with BENCH_FLOORS=1 (the framework's extension point alone), `costOf` a goal line
 * (`variant` paired round by round: this one >= `atLeast` × that one). `flowgate` and
 * `competitor` name the variants of the goals; `baselineName` words the goal lines; `issueQuote` is a ratio the issue
 * quoted, printed beside this run's ratio of `issueQuote.variant`.
 */
export const GROUPS = [
  {
    name: 'express',
    title: 'Express hello world',
    baseline: 'bare',
    baselineName: 'bare',
    flowgate: 'flowgate',
    competitor: 'express-rate-limit',
    variants: [
      { name: 'bare', label: 'no limiter (bare)', server: 'bare.mjs' },
      { name: 'flowgate', label: 'flowgate', server: 'flowgate.mjs' },
      { name: 'express-rate-limit', label: 'express-rate-limit', server: 'express-rate-limit.mjs' },
      { name: 'flowgate-queue', label: 'flowgate + queue', server: 'flowgate-queue.mjs' },
      { name: 'floor-noop', label: 'reference: pass-through middleware', server: 'floor-noop.mjs', floor: true },
      { name: 'floor-headers', label: 'reference: middleware setting 2 headers', server: 'floor-headers.mjs', floor: true },
      { name: 'flowgate-no-headers', label: 'reference: flowgate, headers: false', server: 'flowgate-no-headers.mjs', floor: true },
      { name: 'flowgate-metrics', label: 'flowgate + metrics', server: 'flowgate-metrics.mjs', costOf: { variant: 'flowgate', goal: 'metrics cost <= 2%', atLeast: 0.98 } },
    ],
  },
  {
    name: 'koa',
    title: 'Koa 3 hello world',
    baseline: 'koa-bare',
    baselineName: 'bare Koa',
    flowgate: 'koa-flowgate',
    competitor: 'koa-ratelimit',
    issueQuote: { text: 'issue 5 quotes koa-ratelimit + Redis at 0.74 × bare Koa', variant: 'koa-ratelimit-redis' },
    variants: [
      { name: 'koa-bare', label: 'no limiter (bare Koa)', server: 'koa-bare.mjs' },
      { name: 'koa-flowgate', label: 'flowgate/koa', server: 'koa-flowgate.mjs' },
      { name: 'koa-ratelimit', label: 'koa-ratelimit (memory)', server: 'koa-ratelimit.mjs' },
      { name: 'koa-ratelimit-redis', label: 'koa-ratelimit (Redis)', server: 'koa-ratelimit-redis.mjs', needs: 'redis' },
      { name: 'koa-floor-noop', label: 'reference: pass-through middleware', server: 'koa-floor-noop.mjs', floor: true },
      { name: 'koa-floor-headers', label: 'reference: middleware setting 2 headers', server: 'koa-floor-headers.mjs', floor: true },
      { name: 'koa-flowgate-no-headers', label: 'reference: flowgate/koa, headers: false', server: 'koa-flowgate-no-headers.mjs', floor: true },
    ],
  },
  {
    name: 'nest',
    title: 'NestJS 11 hello controller on @nestjs/platform-express',
    baseline: 'nest-bare',
    baselineName: 'bare Nest',
    flowgate: 'nest-flowgate',
    competitor: 'nest-throttler',
    issueQuote: { text: 'issue 5 quotes @nestjs/throttler at 0.59 × bare Nest', variant: 'nest-throttler' },
    variants: [
      { name: 'nest-bare', label: 'no limiter (bare Nest)', server: 'nest-bare.mjs' },
      { name: 'nest-flowgate', label: 'flowgate/nestjs', server: 'nest-flowgate.mjs' },
      { name: 'nest-throttler', label: '@nestjs/throttler', server: 'nest-throttler.mjs' },
      { name: 'nest-floor-guard', label: 'reference: guard returning true', server: 'nest-floor-guard.mjs', floor: true },
      { name: 'nest-floor-headers', label: 'reference: guard setting 2 headers', server: 'nest-floor-headers.mjs', floor: true },
      { name: 'nest-flowgate-no-headers', label: 'reference: flowgate/nestjs, headers: false', server: 'nest-flowgate-no-headers.mjs', floor: true },
    ],
  },
];

/**
 * Every group name BENCH_GROUPS accepts: the HTTP groups, `memory` (MemoryStore memory per key) and
 * `cluster` (bench/cluster.mjs: the ZooKeeper store on 3 processes against the Redis peers, the
 * cluster queue and DistributedQueue; also `npm run bench:cluster`).
 */
export const GROUP_NAMES = [...GROUPS.map((g) => g.name), 'memory', 'cluster'];

/** The Express variants and their baseline (the Express group, as before the Koa and Nest groups). */
export const VARIANTS = GROUPS[0].variants;
export const BASELINE = GROUPS[0].baseline;
