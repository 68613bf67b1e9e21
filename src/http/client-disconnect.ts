// An abort signal that fires when the client goes away, so a waiting request gives its place up.

/** Something that emits `close` when its connection ends: a Node `ServerResponse`. */
export interface Closable {
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** A signal that aborts when the response closes, and how to stop listening once the take is decided. */
export interface ClientDisconnect {
  readonly signal: AbortSignal;
  stop(): void;
}

/** Watches `response` for `close`: while a request waits in the queue, that means the client left. */
export function watchDisconnect(response: Closable): ClientDisconnect {
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  response.once('close', onClose);
  return { signal: gone.signal, stop: () => response.off('close', onClose) };
}
