// Bounded waiting for the integration tests: poll a condition until it holds or a deadline passes.

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

/** A unique znode root for one test file: `/t-<file>-<random>`. */
export function uniqueRoot(file: string): string {
  return `/t-${file}-${Math.random().toString(36).slice(2, 10)}`;
}
