// The overflow queue: takes over the limit wait in a FIFO per key until their tokens are there.

import type { Clock } from './clock.js';
import type { BucketPolicy } from './policy.js';
import type { Store } from './store.js';
import type { QueueLimits, QueueStats, QueueObserver, QueueOutcome, TakeQueue } from './take-queue.js';
import { rankOf } from './priority.js';
import { msUntilFits } from './token-bucket.js';
import { whenAborted } from './abort-listeners.js';

interface Waiter {
  readonly cost: number;
  readonly arrivedAt: number;
  readonly priority: number;
  readonly deadline: number;
  /** Told to wait (counted against maxSize); false while its first attempt is undecided. */
  waiting: boolean;
  settled: boolean;
  /** Answered (admitted) when told to wait, and holding its place until its tokens are due (see `placeholders`). */
  placeholder: boolean;
  readonly settle: (outcome: QueueOutcome) => void;
  readonly fail: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  /** Stops listening to the signal (the wait ended otherwise). */
  stopListening: (() => void) | undefined;
}

/** Floating-point slack on times (ms): a waiting take whose wait, recomputed, passes its deadline by less is not timed out for it, and a timer a rounding error over a whole ms fires at that ms. */
const DEADLINE_EPSILON_MS = 1e-6;

/** The waiters of one key. Exists only while the key has waiters or a take in flight. */
class KeyLine {
  readonly waiters: Waiter[] = [];
  /** Sum of the waiters' costs. */
  queuedCost = 0;
  /** How many waiters have been told to wait. */
  waitingCount = 0;
  /** The head's store take is in flight. */
  taking = false;
  /** The one timer of this key: fires when the head's tokens are due. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The store said no retry can succeed before this clock reading. */
  notBefore = Number.NEGATIVE_INFINITY;
  /** Tokens last reported by the store, and the clock reading then. */
  tokens = 0;
  tokensAt = Number.NEGATIVE_INFINITY;
  /** Set once a take with a priority other than 0 joined: only then is the insertion point searched. */
  prioritized = false;
  /** The largest cost that joined the line (never lowered): no waiter costs more. */
  largestCost = 0;

  constructor(readonly key: string) {}

  get idle(): boolean {
    return this.waiters.length === 0 && !this.taking && this.timer === undefined;
  }
}

/**
 * Per-key FIFO lines of takes waiting for tokens.
 *
 * Arrival order is strict per key and priority: a take joins the line whenever the line is not
 * empty, so a later take (even a cheaper one) never overtakes an earlier one of the same or a higher
 * rank (priority plus seconds waited, see priority.ts); the head, served next, keeps its place. Only the head of a line ever asks the
 * store for tokens, and a sleeping line has exactly one timer, set for when the head's tokens are
 * due. Every time the store says "not yet", the whole line is re-checked against the refill rate:
 * a waiter that can no longer be served before its deadline is rejected at once, with the time at
 * which it could have been.
 */
export class OverflowQueue implements TakeQueue {
  private readonly lines = new Map<string, KeyLine>();
  private closed = false;

  /**
   * @param placeholders - the dry-run queue: a take told to wait is answered at once (admitted), and
   *   stays in line as a placeholder that takes its tokens when they are due, as the waiting take
   *   would have; so later takes see the line enforcement would have, and are refused as it would
   *   refuse them. Its timers do not keep the process alive.
   */
  constructor(
    private readonly store: Store,
    private policy: BucketPolicy,
    private limits: QueueLimits,
    private readonly clock: Clock,
    private readonly observer: QueueObserver,
    private readonly placeholders = false,
  ) {}

  /** Takes `cost` tokens for `key`, waiting in line when they are not there yet. */
  take(key: string, cost: number, signal?: AbortSignal, priority = 0): Promise<QueueOutcome> {
    let line = this.lines.get(key);
    if (line === undefined) {
      line = new KeyLine(key);
      this.lines.set(key, line);
    }
    const now = this.clock.now();
    const sleeping = line.waiters.length > 0 && !line.taking;
    if (sleeping && line.waiters.length >= this.limits.maxSize) {
      return Promise.resolve(this.refusal(line, cost, now, 'queue-full'));
    }
    // While the head's store take is in flight, the takes behind it have not been told to wait
    // (the bucket may hold tokens for them): only waiters told to wait fill the queue.
    if (line.taking && line.waitingCount > 0 && line.waitingCount >= this.limits.maxSize) {
      return Promise.resolve(this.refusal(line, cost, now, 'queue-full'));
    }
    if (priority !== 0) line.prioritized = true;
    // Behind every waiter of the same or a higher rank; the head (served next) keeps its place; and
    // behind every waiter it would push past its deadline (no waiter is moved past its maxWait).
    let index = line.prioritized ? insertionIndex(line.waiters, priority, now) : line.waiters.length;
    if (index < line.waiters.length) index = this.behindDeadlines(line, index, cost, now);
    let ahead = line.queuedCost;
    for (let i = index; i < line.waiters.length; i++) ahead -= (line.waiters[i] as Waiter).cost;
    let predicted: number | undefined;
    if (sleeping) {
      predicted = this.msUntilServable(line, ahead + cost, now);
      if (predicted + this.capDrift(line, index, cost, now) > this.limits.maxWaitMs) return Promise.resolve(this.refusal(line, cost, now, 'limited'));
    }
    return new Promise<QueueOutcome>((resolve, reject) => {
      const waiter: Waiter = {
        cost,
        priority,
        arrivedAt: now,
        deadline: now + this.limits.maxWaitMs,
        waiting: false,
        settled: false,
        placeholder: false,
        settle: resolve,
        fail: reject,
        signal,
        stopListening: undefined,
      };
      const currentLine = line as KeyLine;
      currentLine.waiters.splice(index, 0, waiter);
      currentLine.queuedCost += cost;
      if (cost > currentLine.largestCost) currentLine.largestCost = cost;
      if (signal !== undefined) {
        waiter.stopListening = whenAborted(signal, () => this.abort(currentLine, waiter));
      }
      if (sleeping) this.markWaiting(currentLine, waiter, index, now, predicted);
      if (!currentLine.taking && currentLine.timer === undefined) void this.pump(currentLine);
    });
  }

  /** {@inheritDoc TakeQueue.idle} */
  idle(key: string): boolean {
    return !this.lines.has(key);
  }

  /** Number of takes waiting for `key`. */
  size(key: string): number {
    return this.lines.get(key)?.waiters.length ?? 0;
  }

  /** {@inheritDoc TakeQueue.queuedCost} */
  queuedCost(key: string): number {
    return this.lines.get(key)?.queuedCost ?? 0;
  }

  /** Re-tries the head of `key`'s line now (after a reset, for example). */
  wake(key: string): void {
    const line = this.lines.get(key);
    if (line?.timer === undefined) return;
    clearTimeout(line.timer);
    line.timer = undefined;
    void this.pump(line);
  }

  /** {@inheritDoc TakeQueue.stats} */
  stats(): QueueStats {
    const now = this.clock.now();
    let waiting = 0;
    let oldest = now;
    for (const line of this.lines.values()) {
      waiting += line.waiters.length;
      // Not only the head: a take of a higher priority may have gone ahead of older waiters.
      for (const waiter of line.waiters) if (waiter.arrivedAt < oldest) oldest = waiter.arrivedAt;
    }
    return { waiting, oldestWaitMs: now - oldest };
  }

  /**
   * {@inheritDoc TakeQueue.update}
   * Waiters whose cost no longer fits the burst are refused (`'cost-exceeds-burst'`), and sleeping
   * lines are timed again by the new rate (sooner or later).
   */
  update(policy: BucketPolicy, limits: QueueLimits): void {
    this.policy = policy;
    this.limits = limits;
    const now = this.clock.now();
    for (const line of [...this.lines.values()]) {
      for (const waiter of line.waiters.filter((w) => w.cost > policy.burst && (!w.settled || w.placeholder))) {
        if (line.taking && waiter === line.waiters[0]) continue; // its take in flight decides it
        const waitedMs = waiter.waiting ? now - waiter.arrivedAt : 0;
        this.remove(line, waiter);
        this.finish(waiter, { admitted: false, reason: 'cost-exceeds-burst', tokens: line.tokens, retryAfterMs: 0, waitedMs });
      }
      if (line.timer !== undefined) {
        clearTimeout(line.timer);
        line.timer = undefined;
        void this.pump(line);
      } else if (line.idle && this.lines.get(line.key) === line) this.lines.delete(line.key);
    }
  }

  /** Rejects every waiter with `'closed'` and stops every timer. */
  close(): void {
    this.closed = true;
    const now = this.clock.now();
    for (const line of this.lines.values()) {
      if (line.timer !== undefined) clearTimeout(line.timer);
      line.timer = undefined;
      for (const waiter of line.waiters.splice(0)) {
        this.finish(waiter, { admitted: false, reason: 'closed', tokens: line.tokens, retryAfterMs: 0, waitedMs: now - waiter.arrivedAt });
      }
      line.queuedCost = 0;
      line.waitingCount = 0;
    }
    this.lines.clear();
  }

  /** Serves the line's head for as long as tokens are there; then sleeps until they are due. */
  private async pump(line: KeyLine): Promise<void> {
    line.timer = undefined;
    for (;;) {
      const head = line.waiters[0];
      if (head === undefined) break;
      line.taking = true;
      let result;
      try {
        result = await this.store.take(this.policy, line.key, head.cost);
      } catch (error) {
        line.taking = false;
        this.failAll(line, error);
        break;
      }
      line.taking = false;
      const now = this.clock.now();
      line.tokens = result.tokens;
      line.tokensAt = now;
      if ((head.settled && !head.placeholder) || this.closed) {
        // Aborted or closed while its take was in flight: give back what it got, serve the next.
        if (result.taken) this.store.refund(this.policy, line.key, head.cost).catch(() => undefined);
        continue;
      }
      if (result.taken) {
        this.remove(line, head);
        if (head.waiting) this.observer.dequeued(line.key, head.cost, now - head.arrivedAt);
        this.finish(head, { admitted: true, tokens: result.tokens, waitedMs: head.waiting ? now - head.arrivedAt : 0 });
        continue;
      }
      if (result.reason === 'unavailable') {
        this.reject(line, head, 'unavailable', result.retryAfterMs ?? 0, now);
        continue;
      }
      if (head.cost > this.policy.burst) {
        // A lower burst came while its take was in flight (update() left it to that take): it can never be served.
        this.reject(line, head, 'cost-exceeds-burst', 0, now);
        continue;
      }
      line.notBefore = now + (result.retryAfterMs ?? 0);
      this.recheck(line, now);
      const next = line.waiters[0];
      if (next === undefined) break;
      if (next !== head) continue;
      const delay = this.msUntilServable(line, head.cost, now);
      // A delay a rounding error over a whole ms is that ms (the store's check has the same tolerance).
      line.timer = setTimeout(() => void this.pump(line), Math.max(0, Math.ceil(delay - DEADLINE_EPSILON_MS)));
      // Nothing awaits a placeholder: its timer does not keep the process alive.
      if (this.placeholders) line.timer.unref?.();
      return;
    }
    if (line.idle && this.lines.get(line.key) === line) this.lines.delete(line.key);
  }

  /** Walks the line with the tokens now known: rejects who cannot make their deadline, admits the rest to wait. */
  private recheck(line: KeyLine, now: number): void {
    let ahead = 0;
    for (let i = 0; i < line.waiters.length; ) {
      const waiter = line.waiters[i] as Waiter;
      const wait = this.msUntilServable(line, ahead + waiter.cost, now);
      if (!waiter.waiting && line.waitingCount >= this.limits.maxSize) {
        this.reject(line, waiter, 'queue-full', wait, now);
      } else if (waiter.waiting ? wait > waiter.deadline - now + DEADLINE_EPSILON_MS : wait + this.capDrift(line, i, waiter.cost, now) > waiter.deadline - now) {
        this.reject(line, waiter, waiter.waiting ? 'timeout' : 'limited', wait, now);
      } else {
        if (!waiter.waiting) this.markWaiting(line, waiter, i, now, wait);
        ahead += waiter.cost;
        i++;
      }
    }
  }

  private markWaiting(line: KeyLine, waiter: Waiter, position: number, now: number, predicted?: number): void {
    waiter.waiting = true;
    line.waitingCount++;
    const wait = predicted ?? this.msUntilServable(line, line.queuedCost, now);
    this.observer.enqueued(line.key, waiter.cost, position, line.waitingCount, wait);
    if (this.placeholders) {
      this.finish(waiter, { admitted: true, tokens: 0, waitedMs: 0 });
      waiter.placeholder = true;
    }
  }

  private reject(line: KeyLine, waiter: Waiter, reason: 'limited' | 'queue-full' | 'timeout' | 'unavailable' | 'cost-exceeds-burst', retryAfterMs: number, now: number): void {
    const waitedMs = waiter.waiting ? now - waiter.arrivedAt : 0;
    this.remove(line, waiter);
    if (reason === 'timeout') this.observer.timedOut(line.key, waiter.cost, waitedMs);
    this.finish(waiter, { admitted: false, reason, tokens: line.tokens, retryAfterMs, waitedMs });
  }

  private abort(line: KeyLine, waiter: Waiter): void {
    if (waiter.settled) return;
    const wasHead = line.waiters[0] === waiter;
    this.remove(line, waiter);
    const now = this.clock.now();
    this.observer.aborted(line.key, waiter.cost, now - waiter.arrivedAt);
    this.finish(waiter, { admitted: false, reason: 'aborted', tokens: this.estimateTokens(line, now), retryAfterMs: 0, waitedMs: now - waiter.arrivedAt });
    // The next take may be cheaper than the one that left: let it try now.
    if (wasHead && line.timer !== undefined) this.wake(line.key);
    else if (line.idle && this.lines.get(line.key) === line) this.lines.delete(line.key);
  }

  /** A rejection for a take that never joined the line. */
  private refusal(line: KeyLine, cost: number, now: number, reason: 'limited' | 'queue-full'): QueueOutcome {
    const retryAfterMs = this.msUntilServable(line, line.queuedCost + cost, now);
    return { admitted: false, reason, tokens: this.estimateTokens(line, now), retryAfterMs, waitedMs: 0 };
  }

  /**
   * The first place at or after `index` where a take of `cost` delays no waiter behind it past its
   * deadline (from the tokens known now, as the waiters' own waits are predicted).
   */
  private behindDeadlines(line: KeyLine, index: number, cost: number, now: number): number {
    let through = 0;
    for (let i = 0; i < index; i++) through += (line.waiters[i] as Waiter).cost;
    let place = index;
    for (let i = index; i < line.waiters.length; i++) {
      const waiter = line.waiters[i] as Waiter;
      through += waiter.cost;
      if (this.msUntilServable(line, through + cost, now) > waiter.deadline - now) place = i + 1;
    }
    return place;
  }

  /**
   * How late, at most, a waiter of `cost` at place `index` may be served against the refill's
   * timing: timers fire on whole ms, and a waiter that needs (nearly) the whole bucket finds it
   * full by then, so the refill of that fraction of a ms is lost to the burst cap and the line
   * behind it moves back by it. The sum of those fractions over such waiters up to this one.
   */
  private capDrift(line: KeyLine, index: number, cost: number, now: number): number {
    const nearlyFull = this.policy.burst - this.policy.ratePerMs;
    // The common case, every cost well below the burst: nothing to add up.
    if (cost <= nearlyFull && line.largestCost <= nearlyFull) return 0;
    let drift = 0;
    let through = 0;
    const add = (waiterCost: number): void => {
      through += waiterCost;
      if (waiterCost <= nearlyFull) return;
      const due = now + this.msUntilServable(line, through, now);
      drift += Math.ceil(due) - due;
    };
    for (let i = 0; i < index && i < line.waiters.length; i++) add((line.waiters[i] as Waiter).cost);
    add(cost);
    return drift;
  }

  /** Milliseconds until `cost` tokens can be had: by the refill rate, and not before the store allows. */
  private msUntilServable(line: KeyLine, cost: number, now: number): number {
    const byRate = msUntilFits(this.estimateTokens(line, now), cost, this.policy);
    return Math.max(byRate, line.notBefore - now);
  }

  private estimateTokens(line: KeyLine, now: number): number {
    return Math.min(this.policy.burst, line.tokens + Math.max(0, now - line.tokensAt) * this.policy.ratePerMs);
  }

  private remove(line: KeyLine, waiter: Waiter): void {
    const index = line.waiters.indexOf(waiter);
    if (index < 0) return;
    line.waiters.splice(index, 1);
    line.queuedCost -= waiter.cost;
    if (waiter.waiting) line.waitingCount--;
  }

  private finish(waiter: Waiter, outcome: QueueOutcome): void {
    if (waiter.settled) return;
    waiter.settled = true;
    waiter.stopListening?.();
    waiter.settle(outcome);
  }

  private failAll(line: KeyLine, error: unknown): void {
    for (const waiter of line.waiters.splice(0)) {
      if (waiter.settled) continue;
      waiter.settled = true;
      waiter.stopListening?.();
      waiter.fail(error);
    }
    line.queuedCost = 0;
    line.waitingCount = 0;
  }
}

/** Where a take of `priority` joins: after the head and after every waiter that ranks as high or higher now. */
function insertionIndex(waiters: readonly Waiter[], priority: number, now: number): number {
  const rank = rankOf(priority, now, now);
  // Right behind the last waiter of the same or a higher rank: the line is not sorted by rank once a
  // waiter was put behind a lower one for that one's deadline, and FIFO within a rank holds still.
  for (let i = waiters.length - 1; i >= 1; i--) {
    const waiter = waiters[i] as Waiter;
    if (rankOf(waiter.priority, waiter.arrivedAt, now) >= rank) return i + 1;
  }
  return Math.min(1, waiters.length);
}
