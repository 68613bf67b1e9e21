// The events a Limiter emits, with their payloads.

import type { RejectReason } from './decision.js';

/** Payloads of the events emitted by {@link Limiter}, by event name. */
export interface LimiterEvents {
  /** A take was admitted (at once, or after waiting: then `waitedMs` > 0). In dry-run, `wouldReject` marks one over the limit. */
  admit: { key: string; cost: number; remaining: number; waitedMs: number; wouldReject?: RejectReason };
  /** A take was rejected. */
  reject: { key: string; cost: number; reason: RejectReason; retryAfterMs: number; waitedMs: number };
  /** A take was told to wait in the overflow queue. `position` 0 is the head. */
  enqueue: { key: string; cost: number; position: number; queueSize: number; predictedWaitMs: number };
  /** A take that had waited left the queue, served. */
  dequeue: { key: string; cost: number; waitedMs: number };
  /** A take that had waited was rejected: it could not be served within `maxWait`. */
  timeout: { key: string; cost: number; waitedMs: number };
  /** A waiting take was aborted through its signal. */
  abort: { key: string; cost: number; waitedMs: number };
  /** The shared store became unreachable: decisions follow its `onUnavailable` policy. */
  degraded: { reason: string };
  /** The shared store is reachable again. */
  recovered: { degradedMs: number };
  /**
   * A policy came into force: a published one (`version` set; through {@link Limiter.setPolicy},
   * the CLI, or another process), or the options' own again (`version` undefined).
   */
  policy: { version: number | undefined; rate: number; intervalMs: number; burst: number; queue: { maxSize: number; maxWaitMs: number } | false };
}

/** The name of a limiter event. */
export type LimiterEventName = keyof LimiterEvents;
