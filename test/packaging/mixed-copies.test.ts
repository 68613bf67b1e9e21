// An app that both `require`s and `import`s flowgate loads two copies of it (CommonJS and ESM), whose
// classes differ: objects made by one copy are accepted by the other (checked by brand, not instanceof).

import { execFile } from 'node:child_process';
import path from 'node:path';
import { ensureBuilt } from '../helpers/ensure-built.js';

jest.setTimeout(60_000);

const REPO = path.resolve(__dirname, '../..');

const SCRIPT = `
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const repo = process.env.REPO;
const require = createRequire(repo + '/package.json');
const cjs = require(repo + '/dist/cjs/src/index.js');
const esm = await import(pathToFileURL(repo + '/dist/esm/src/index.js').href);
const esmExpress = await import(pathToFileURL(repo + '/dist/esm/adapters/express/index.js').href);
const results = {};
const attempt = async (label, work) => {
  try {
    await work();
    results[label] = 'accepted';
  } catch (error) {
    results[label] = String(error && error.message);
  }
};
const store = new cjs.ZooKeeperStore({ connect: '127.0.0.1:1', unavailableAfter: '100ms' });
const memory = new cjs.MemoryStore();
await attempt('ESM rateLimit({ limiter }) with a CommonJS limiter', async () => {
  const limiter = cjs.createLimiter({ rate: 10, burst: 10 });
  esmExpress.rateLimit({ limiter });
  await limiter.close();
});
await attempt('ESM DistributedQueue({ store }) with a CommonJS ZooKeeperStore', async () => {
  await new esm.DistributedQueue({ store, name: 'q' }).close();
});
await attempt('ESM createConcurrencyLimiter({ store }) with a CommonJS ZooKeeperStore', async () => {
  await esm.createConcurrencyLimiter({ concurrency: 2, store }).close();
});
await attempt('ESM createConcurrencyLimiter({ store }) with a CommonJS MemoryStore', async () => {
  await esm.createConcurrencyLimiter({ concurrency: 2, store: memory }).close();
});
await attempt('ESM rateLimit({ concurrency }) with a CommonJS ConcurrencyLimiter', async () => {
  const limiter = cjs.createLimiter({ rate: 10, burst: 10 });
  const concurrency = cjs.createConcurrencyLimiter({ concurrency: 2 });
  esmExpress.rateLimit({ limiter, concurrency });
  await limiter.close();
  await concurrency.close();
});
await attempt('a plain object as the limiter is still refused', async () => {
  esmExpress.rateLimit({ limiter: { take() {} } });
});
await attempt("a limiter of another release (another brand version) is refused", async () => {
  esmExpress.rateLimit({ limiter: { take() {}, [Symbol.for('flowgate.999.Limiter')]: true } });
});
await store.close();
process.stdout.write(JSON.stringify(results));
`;

test('objects made by the CommonJS copy are accepted by the ESM copy (limiter, stores, concurrency limiter)', async () => {
  await ensureBuilt();
  const output = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', SCRIPT], { env: { ...process.env, REPO }, timeout: 30_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${String(error)}\n${stderr}`)) : resolve(stdout)));
  });
  const results = JSON.parse(output) as Record<string, string>;
  process.stdout.write(`[mixed-copies] ${JSON.stringify(results, null, 1)}\n`);
  const { ['a plain object as the limiter is still refused']: plain, ['a limiter of another release (another brand version) is refused']: otherRelease, ...mixed } = results;
  for (const [label, result] of Object.entries(mixed)) expect({ label, result }).toEqual({ label, result: 'accepted' });
  expect(plain).toMatch(/invalid option limiter=.*must be a Limiter from createLimiter\(\)/);
  expect(otherRelease).toMatch(/must be a Limiter from createLimiter\(\)/);
});
