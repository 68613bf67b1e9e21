// Raw ZooKeeper write rate for comparison: persistent sequential create + delete pairs, N in flight, one node-zookeeper-client session.
import { createRequire } from 'node:module';
import { announce, serveCommands } from './child-ipc.mjs';

const require = createRequire(import.meta.url);
const zookeeper = require('node-zookeeper-client');
const { connect, parent } = JSON.parse(process.env.FLOWGATE_BENCH_RAW ?? '{}');

const client = zookeeper.createClient(connect, { sessionTimeout: 6000, retries: 0 });
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`zk-raw-worker: not connected to ${connect} within 15 s`)), 15_000);
  client.once('connected', () => {
    clearTimeout(timer);
    resolve();
  });
  client.connect();
});
await new Promise((resolve, reject) => client.mkdirp(parent, (error) => (error ? reject(error) : resolve())));

const call = (method, ...args) => new Promise((resolve, reject) => client[method](...args, (error, result) => (error ? reject(error) : resolve(result))));
const DATA = Buffer.from(JSON.stringify({ v: 1, item: { i: 123456 }, attempts: 0 })); // about a DistributedQueue item's size

/** `run { seconds, inFlight }`: create+delete pairs for `seconds`, `inFlight` at a time. */
async function run({ seconds, inFlight }) {
  let pairs = 0;
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      try {
        const path = await call('create', `${parent}/n-`, DATA, zookeeper.CreateMode.PERSISTENT_SEQUENTIAL);
        await call('remove', path, -1);
        pairs++;
      } catch {
        errors++;
        if (errors > 1000) throw new Error('zk-raw-worker: more than 1000 errors');
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  return { pairs, errors, seconds: elapsed, pairsPerSecond: pairs / elapsed, writesPerSecond: (2 * pairs) / elapsed };
}

serveCommands({ run }, () => new Promise((resolve) => {
  client.once('disconnected', resolve);
  client.close();
}));
announce({});
