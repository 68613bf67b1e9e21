// The hello-world Koa 3 app every Koa variant serves, with an optional middleware, on a free loopback port.
import Koa from 'koa';

/**
 * Serves `GET /` → "Hello, world!" on 127.0.0.1 (port chosen by the OS), behind `middleware` when
 * given, and prints one JSON line `{"port": N, "pid": P}` on stdout for the orchestrator once listening.
 */
export function serveKoaHello(middleware) {
  const app = new Koa();
  if (middleware !== undefined) app.use(middleware);
  app.use((ctx) => {
    ctx.body = 'Hello, world!';
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
