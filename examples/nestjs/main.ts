// Runs the NestJS example on 127.0.0.1, on Express (or Fastify with PLATFORM=fastify).
// FLOWGATE_ZK=host:port[,host:port] shares the limits through ZooKeeper; without it, the embedded store.

import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ZooKeeperStore } from 'flowgate';
import { appModule } from './app.module.js';

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const platform = process.env.PLATFORM === 'fastify' ? 'fastify' : 'express';
  const zk = process.env.FLOWGATE_ZK;
  const store = zk ? new ZooKeeperStore({ connect: zk, root: '/flowgate-examples' }) : undefined;
  if (store) await store.ready(10_000);
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(appModule(store), adapter, { logger: ['error', 'warn'] });
  // Ctrl-C closes the app: waiting requests are answered, then the limiters and the store close.
  app.enableShutdownHooks();
  await app.listen(port, '127.0.0.1');
  console.log(
    `flowgate NestJS example (${platform}) on http://127.0.0.1:${port}/ (5 req/s, burst 5, queue 10 x 2 s; POST /login 3/min; GET /health and GET /metrics exempt; ${store ? `ZooKeeper at ${zk}` : 'embedded store'})`,
  );
}

void main();
