// The cluster example: three processes share one limit and one overflow queue through ZooKeeper.

import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const WORKERS = 3;
const REQUESTS = 240;
const SPACING_MS = 10;

// A local ZooKeeper, started the way the tests start it, unless one is given.
let zk = process.env.FLOWGATE_ZK;
const ownZk = zk === undefined;
if (ownZk) {
  execFileSync('bash', ['scripts/zk/install.sh'], { cwd: repo, stdio: 'inherit' });
  zk = execFileSync('bash', ['scripts/zk/start.sh', 'example-cluster', 'standalone', '24600'], { cwd: repo, encoding: 'utf8' }).trim().split('\n').at(-1);
}

const workers = [];
try {
  for (let i = 1; i <= WORKERS; i++) {
    const child = fork(fileURLToPath(new URL('worker.mjs', import.meta.url)), { env: { ...process.env, FLOWGATE_ZK: zk, WORKER: String(i) } });
    const [{ port }] = await once(child, 'message');
    workers.push({ child, url: `http://127.0.0.1:${port}/`, admitted: 0, queued: 0, rejected: 0 });
  }
  console.log(`${WORKERS} processes share one limit through ZooKeeper at ${zk}: 20/s, burst 10, one queue (100 waiting, 5 s)`);
  console.log(`sending ${REQUESTS} requests, one every ${SPACING_MS} ms, to the processes in turn...\n`);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: REQUESTS }, async (_, i) => {
      await new Promise((resolve) => setTimeout(resolve, i * SPACING_MS));
      const worker = workers[i % WORKERS];
      const response = await fetch(worker.url);
      const body = await response.json();
      if (response.status !== 200) worker.rejected++;
      else if (body.waitedMs >= 50) worker.queued++;
      else worker.admitted++;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log('| process | admitted at once | queued, then served | rejected (429) |');
  console.log('|---|---|---|---|');
  workers.forEach((w, i) => console.log(`| ${i + 1} | ${w.admitted} | ${w.queued} | ${w.rejected} |`));
  const served = workers.reduce((n, w) => n + w.admitted + w.queued, 0);
  const rejected = workers.reduce((n, w) => n + w.rejected, 0);
  console.log(`| total | ${workers.reduce((n, w) => n + w.admitted, 0)} | ${workers.reduce((n, w) => n + w.queued, 0)} | ${rejected} |`);
  console.log(`\nserved ${served} in ${seconds.toFixed(1)} s; the shared limit allows burst + rate x T = ${Math.floor(10 + 20 * seconds)}`);
} finally {
  for (const { child } of workers) {
    child.send('stop');
    await Promise.race([once(child, 'exit'), new Promise((resolve) => setTimeout(resolve, 3000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  if (ownZk) execFileSync('bash', ['scripts/zk/stop.sh', 'example-cluster'], { cwd: repo, stdio: 'inherit' });
}
