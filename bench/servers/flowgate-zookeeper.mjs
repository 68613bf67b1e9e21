// Profiling variant (not in the bench's groups): the hello-world app behind flowgate/express on a ZooKeeperStore at BENCH_ZK_CONNECT.
import { loadFlowgate } from '../flowgate-under-test.mjs';
import { serveHello } from './hello-app.mjs';

const { ZooKeeperStore } = loadFlowgate('flowgate');
const { rateLimit } = loadFlowgate('flowgate/express');
const store = new ZooKeeperStore({ connect: process.env.BENCH_ZK_CONNECT ?? '127.0.0.1:2181', root: `/flowgate-profile-${process.pid}` });
await store.ready(20_000);
serveHello(rateLimit({ rate: 1e9, interval: '1s', store }));
