// Bounded waiting for the integration tests: every loop has a deadline; unique znode roots; wall time.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every `intervalMs` until it is true; throws naming `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 50): Promise<number> {
  const start = performance.now();
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return performance.now() - start;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/** Rejects with `what` when `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
    }),
  ]);
}

/** A unique znode root for one test: `/t-<label>-<random>`. */
export function uniqueRoot(label: string): string {
  return `/t-${label}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Wall-clock milliseconds with sub-ms resolution, comparable between processes of one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}
