// How long one DistributedQueue call may wait for ZooKeeper, and what ends it early: a deadline, the caller's AbortSignal, the queue's close().

import { whenAborted } from '../../abort-listeners.js';
import { MAX_TIMER_MS } from '../../duration.js';

/**
 * The limits of one call of a {@link DistributedQueue} (a dequeue, a tryDequeue): its deadline
 * (performance.now()) and what aborts it (the caller's signal, or the queue's close() through
 * {@link abort}). Waits made through it ({@link race}, {@link sleep}) end at whichever comes first.
 * {@link dispose} it when the call ends: it stops listening to the caller's signal.
 */
export class QueueWait {
  private readonly controller = new AbortController();
  private readonly unlink: () => void;

  /**
   * @param deadline - when the call gives up (performance.now()); `Infinity` for never
   * @param signal - the caller's signal: its abort ends the call with its reason
   * @param expired - the error a wait rejects with at the deadline
   */
  constructor(
    readonly deadline: number,
    signal: AbortSignal | undefined,
    private readonly expired: () => Error,
  ) {
    if (signal === undefined) {
      this.unlink = () => undefined;
    } else if (signal.aborted) {
      this.controller.abort(signal.reason);
      this.unlink = () => undefined;
    } else {
      this.unlink = whenAborted(signal, () => this.controller.abort(signal.reason));
    }
  }

  /** A wait with only a deadline, never aborted (it adds no listener, so it may be shared): rejects with `expired()` there. */
  static until(deadline: number, expired: () => Error): QueueWait {
    const wait = new QueueWait(deadline, undefined, expired);
    wait.abortable = false;
    return wait;
  }

  /** Whether it can be aborted (not made by {@link until}). */
  private abortable = true;

  /** Aborted by the caller's signal or by {@link abort}: waits end with its reason. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Milliseconds left before the deadline (0 once it has passed). */
  get left(): number {
    return Math.max(0, this.deadline - performance.now());
  }

  /** Ends the call's waits with `reason` (the queue was closed). */
  abort(reason: Error): void {
    if (!this.abortable) throw new Error('flowgate: QueueWait.until() waits cannot be aborted');
    this.controller.abort(reason);
  }

  /** Throws the abort's reason when the call was aborted. */
  throwIfAborted(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }

  /**
   * Settles as `promise` does, unless the deadline passes (rejects with `expired()`) or the call is
   * aborted (rejects with the reason) first. `promise` then runs on: `abandoned` is given it, to deal
   * with what it may still do.
   */
  race<R>(promise: Promise<R>, abandoned?: (promise: Promise<R>) => void): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const end = (): boolean => {
        if (done) return false;
        done = true;
        clearTimeout(timer);
        this.signal.removeEventListener('abort', onAbort);
        return true;
      };
      const giveUp = (error: unknown): void => {
        if (!end()) return;
        abandoned?.(promise);
        reject(error);
      };
      const onAbort = (): void => giveUp(this.signal.reason);
      if (this.signal.aborted) return giveUp(this.signal.reason);
      if (this.left <= 0) return giveUp(this.expired());
      // A deadline further off than Node's longest timer is waited for in steps of it.
      const arm = (): void => {
        timer = setTimeout(() => (this.left <= 0 ? giveUp(this.expired()) : arm()), Math.min(this.left, MAX_TIMER_MS));
      };
      if (this.deadline !== Infinity) arm();
      if (this.abortable) this.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => end() && resolve(value),
        (error: unknown) => end() && reject(error),
      );
    });
  }

  /** Resolves after `ms`, or at the deadline if that comes first; rejects with the reason if the call is aborted meanwhile. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.signal.aborted) return reject(this.signal.reason);
      const onAbort = (): void => {
        // Its timer goes too: it would keep the process alive.
        clearTimeout(timer);
        reject(this.signal.reason);
      };
      const timer = setTimeout(() => {
        this.signal.removeEventListener('abort', onAbort);
        resolve();
      }, Math.min(ms, this.left, MAX_TIMER_MS));
      if (this.abortable) this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops listening to the caller's signal (the call has ended). */
  dispose(): void {
    this.unlink();
  }
}
