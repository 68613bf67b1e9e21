// A child that loads a ZooKeeper ensemble as flowgate's lease fetches do, with no app involved: a write every 1/rate s, watched by two other clients.
import { createRequire } from 'node:module';
import { announce, serveCommands } from './child-ipc.mjs';

const require = createRequire(import.meta.url);
const zookeeper = require('node-zookeeper-client');
const { connect, root, writesPerSecond } = JSON.parse(process.env.FLOWGATE_BENCH_SIDE_WRITER ?? '{}');

const clients = [0, 1, 2].map(() => zookeeper.createClient(connect));
await Promise.all(clients.map((client) => new Promise((resolve) => {
  client.once('connected', resolve);
  client.connect();
})));
const path = `${root}-side-writer`;
await new Promise((resolve) => clients[0].mkdirp(path, () => resolve()));
// Two clients keep a data watch on the znode and read it again after each change, as the other processes do with a bucket.
const watch = (client) => client.getData(path, () => watch(client), () => undefined);
watch(clients[1]);
watch(clients[2]);
let writes = 0;
const timer = setInterval(() => {
  const payload = Buffer.from(JSON.stringify({ writes, at: Date.now(), pad: 'x'.repeat(200) }));
  clients[writes++ % 3].setData(path, payload, -1, () => undefined);
}, 1000 / writesPerSecond);
announce({ writesPerSecond });
serveCommands({ stats: async () => ({ writes }) }, async () => {
  clearInterval(timer);
  await new Promise((resolve) => clients[0].remove(path, -1, () => resolve()));
  for (const client of clients) client.close();
});
