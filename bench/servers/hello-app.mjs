// The hello-world Express 5 app every variant serves, with an optional middleware, on a free loopback port.
import express from 'express';

/**
 * Serves `GET /` → "Hello, world!" on 127.0.0.1 (port chosen by the OS), behind `middleware` when
 * given, and prints one JSON line `{"port": N}` on stdout for the orchestrator once listening.
 */
export function serveHello(middleware) {
  const app = express();
  app.disable('x-powered-by');
  if (middleware !== undefined) app.use(middleware);
  app.get('/', (req, res) => {
    res.send('Hello, world!');
  });
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port, pid: process.pid })}\n`);
  });
  server.on('error', (error) => {
    console.error(error);
    process.exit(1);
  });
  return server;
}
