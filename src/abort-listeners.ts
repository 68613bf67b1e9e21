// One 'abort' listener per AbortSignal, however many waits share the signal (Node warns past 10 on one signal).

/** The callbacks waiting on each signal: the signal's one listener calls them all. */
const waiting = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `callback` once when `signal` aborts; returns a function that stops it (call it when the
 * wait ends some other way). Every wait on one signal shares a single listener on it, so that many
 * takes given the same signal (a job's or a shutdown's) do not make Node warn of a listener leak
 * ("MaxListenersExceededWarning: Possible EventTarget memory leak detected") as one listener each did.
 * A signal aborted already calls it in a microtask (an event listener would never be called).
 */
export function whenAborted(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    let live = true;
    queueMicrotask(() => {
      if (live) callback();
    });
    return () => {
      live = false;
    };
  }
  let callbacks = waiting.get(signal);
  if (callbacks === undefined) {
    const created = new Set<() => void>();
    callbacks = created;
    waiting.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        waiting.delete(signal);
        for (const call of [...created]) {
          // Stopped by an earlier callback of this dispatch: not called.
          if (!created.has(call)) continue;
          try {
            call();
          } catch (error) {
            // As an event listener's: reported, and the other waits on the signal still end.
            process.nextTick(() => {
              throw error;
            });
          }
        }
      },
      { once: true },
    );
  }
  // Each registration is its own entry, also when one function is given twice.
  const entry = (): void => callback();
  callbacks.add(entry);
  const registered = callbacks;
  return () => {
    registered.delete(entry);
  };
}
