// One Express app process of the cluster bench: hello world behind the variant's limiter, counting admissions; IPC for stats.
import express from 'express';
import { announce, serveCommands, wallNow } from './child-ipc.mjs';
import { buildLimiter } from './limiters.mjs';

const config = JSON.parse(process.env.FLOWGATE_BENCH_APP ?? '{}');
const limiter = await buildLimiter(config);

const counts = { admitted: 0, firstAdmitAt: null, lastAdmitAt: null, errors: 0 };
/** With `config.timeline`: every admission's wall time, for the accuracy run's per-second figures. */
const admissions = config.timeline ? [] : undefined;
const app = express();
app.disable('x-powered-by');
// Order mode: stamp each request's arrival before the limiter sees it (Date.now(): one machine, one clock).
if (config.order) {
  app.use((req, res, next) => {
    req.arrivedAt = Date.now();
    next();
  });
}
if (limiter.middleware !== undefined) app.use(limiter.middleware);
app.get('/', (req, res) => {
  const now = wallNow();
  counts.admitted++;
  counts.firstAdmitAt ??= now;
  counts.lastAdmitAt = now;
  admissions?.push(now);
  res.send('Hello, world!');
});
app.get('/q', (req, res) => {
  const admittedAt = Date.now();
  counts.admitted++;
  res.json({ id: Number(req.query.id), pid: process.pid, arrivedAt: req.arrivedAt ?? null, admittedAt, waitedMs: req.rateLimit?.waitedMs ?? null });
});
app.use((error, req, res, next) => {
  counts.errors++;
  if (counts.errors <= 3) process.stderr.write(`app ${process.pid} (${config.variant}): ${error?.stack ?? error}\n`);
  res.status(500).send('error');
});

const server = app.listen(0, '127.0.0.1', () => announce({ port: server.address().port }));
server.keepAliveTimeout = 60_000;
server.on('error', (error) => {
  process.stderr.write(`app ${process.pid}: ${error?.stack ?? error}\n`);
  process.exit(1);
});

serveCommands(
  {
    stats: async () => ({ ...counts, limiter: limiter.stats() }),
    admissions: async () => admissions ?? [],
  },
  async () => {
    server.closeAllConnections();
    server.close();
    await limiter.close();
  },
);
