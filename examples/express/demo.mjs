// The demo: fires a burst at the Express example and prints who was admitted, queued or rejected.

import { once } from 'node:events';
import { ZooKeeperStore } from 'flowgate';
import { createApp } from './app.mjs';

const BURST = 25;
// FLOWGATE_ZK=host:port[,host:port] shares the limit through ZooKeeper; without it, the embedded store.
const zk = process.env.FLOWGATE_ZK;
const store = zk ? new ZooKeeperStore({ connect: zk, root: '/flowgate-demo' }) : undefined;
if (store) await store.ready(10_000);
const limit = { rate: 5, interval: '1s', burst: 5, queue: { maxSize: 10, maxWait: '2s' }, ...(store && { store, name: `demo-${process.pid}` }) };

const { app, limiter } = createApp(limit);
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${server.address().port}/`;

console.log(`flowgate demo: ${BURST} requests at once against ${url}`);
console.log(`limit: ${limit.rate} per ${limit.interval}, burst ${limit.burst}, queue ${limit.queue.maxSize} waiting for at most ${limit.queue.maxWait} (${store ? `ZooKeeper store at ${zk}` : 'embedded memory store'})\n`);

const started = performance.now();
const results = await Promise.all(
  Array.from({ length: BURST }, async (_, i) => {
    const response = await fetch(url);
    const body = await response.json();
    return {
      request: i + 1,
      status: response.status,
      waitedMs: body.waitedMs ?? 0,
      doneMs: Math.round(performance.now() - started),
      retryAfter: response.headers.get('retry-after'),
      rateLimit: response.headers.get('ratelimit'),
    };
  }),
);

const admitted = results.filter((r) => r.status === 200 && r.waitedMs < 50);
const queued = results.filter((r) => r.status === 200 && r.waitedMs >= 50);
const rejected = results.filter((r) => r.status !== 200);

console.log('| outcome | requests | details |');
console.log('|---|---|---|');
console.log(`| admitted at once | ${admitted.length} | served in ${Math.max(0, ...admitted.map((r) => r.doneMs))} ms or less |`);
console.log(`| queued, then served | ${queued.length} | waited ${queued.map((r) => r.waitedMs).join(', ')} ms |`);
console.log(`| rejected (429) | ${rejected.length} | Retry-After ${[...new Set(rejected.map((r) => r.retryAfter))].join(', ')} s |`);
console.log(`\nlast response's RateLimit header: ${results.at(-1).rateLimit}`);

server.close();
await limiter.limiter.close();
await store?.close();
