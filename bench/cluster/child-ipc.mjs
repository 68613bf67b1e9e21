// Child side of the cluster bench's IPC: announce readiness, answer the parent's commands, exit with the parent.

/**
 * Answers `{ id, cmd, args }` messages from the parent with `commands[cmd](args)` as
 * `{ reply: id, ok, result | error }`. `onExit` runs once on SIGTERM or when the parent goes away
 * (IPC disconnect), then the process exits; a stuck `onExit` is cut short after `graceMs`.
 */
export function serveCommands(commands, onExit = async () => undefined, graceMs = 3000) {
  process.on('message', async (message) => {
    if (message?.cmd === undefined) return;
    const { id, cmd, args } = message;
    try {
      if (typeof commands[cmd] !== 'function') throw new Error(`unknown command ${cmd}`);
      const result = await commands[cmd](args ?? {});
      if (process.connected) process.send({ reply: id, ok: true, result });
    } catch (error) {
      if (process.connected) process.send({ reply: id, ok: false, error: error?.stack ?? String(error) });
    }
  });
  let exiting = false;
  const exit = () => {
    if (exiting) return;
    exiting = true;
    setTimeout(() => process.exit(0), graceMs).unref();
    Promise.resolve()
      .then(onExit)
      .catch((error) => process.stderr.write(`${process.argv[1]}: while exiting: ${error?.stack ?? error}\n`))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', exit);
  process.on('disconnect', exit);
}

/** Tells the parent this child is ready, with `hello` (e.g. its port). */
export function announce(hello) {
  process.send({ hello: { pid: process.pid, ...hello } });
}

/** Milliseconds since the epoch with sub-ms precision, comparable between processes of one machine. */
export const wallNow = () => performance.timeOrigin + performance.now();
