// An abort signal that fires when the client goes away, so a waiting request gives its place up.

/** Something that emits `close` when its connection ends, and says whether it has: a Node `ServerResponse`. */
export interface Closable {
  readonly closed?: boolean;
  readonly destroyed?: boolean;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** Whether `response` is closed already: finished, or its client gone (Node sets both flags then). */
export function hasClosed(response: { readonly closed?: boolean; readonly destroyed?: boolean }): boolean {
  return response.closed === true || response.destroyed === true;
}

/** A signal that aborts when the response closes, and how to stop listening once the take is decided. */
export interface ClientDisconnect {
  readonly signal: AbortSignal;
  stop(): void;
}

/**
 * Watches `response` for `close`: while a request waits in the queue, that means the client left. A
 * response closed already (the client left while an earlier middleware or an async key ran) gives
 * a signal aborted from the start, so the request never takes a place in the queue.
 */
export function watchDisconnect(response: Closable): ClientDisconnect {
  const gone = new AbortController();
  if (hasClosed(response)) {
    gone.abort();
    return { signal: gone.signal, stop: () => undefined };
  }
  const onClose = (): void => gone.abort();
  response.once('close', onClose);
  return { signal: gone.signal, stop: () => response.off('close', onClose) };
}
