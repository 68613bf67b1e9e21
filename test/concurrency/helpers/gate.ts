// Route handlers that block until the test lets them finish, so that requests stay in flight on purpose.

/** Handlers wait at the gate, each under its request's id, until the test opens it for them. */
export class Gate {
  private readonly waiting = new Map<string, () => void>();
  private readonly seen = new Set<string>();

  /** Called by a handler: resolves when the test opens the gate for `id`. */
  enter(id: string): Promise<void> {
    this.seen.add(id);
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  /** Whether the handler of `id` has started (its request was admitted). */
  arrived(id: string): boolean {
    return this.seen.has(id);
  }

  /** Lets the handler of `id` finish. */
  open(id: string): void {
    this.waiting.get(id)?.();
    this.waiting.delete(id);
  }

  /** Lets every waiting handler finish (test clean-up). */
  openAll(): void {
    for (const id of [...this.waiting.keys()]) this.open(id);
  }
}
