// Copies the built package (package.json + dist/) aside, so a concurrent rebuild cannot change or remove it mid-run.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files that a complete build has; the copy is retried until they are all there. */
const REQUIRED = [
  'dist/cjs/src/index.js',
  'dist/cjs/adapters/express/index.js',
  'dist/cjs/adapters/koa/index.js',
  'dist/cjs/adapters/nestjs/index.js',
  'dist/esm/src/index.js',
  'dist/esm/adapters/express/index.js',
  'dist/cjs/package.json',
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const complete = (dir) => REQUIRED.every((file) => existsSync(join(dir, file)));

/**
 * Snapshots the package at `root` into `<parent>/<run>/node_modules/flowgate/` and returns
 * `{ dir, remove }`, `dir` being `<parent>/<run>` (resolve `flowgate` from a file in it). `parent`
 * must lie inside `root`, so the snapshot's own dependencies resolve from `root/node_modules`.
 * Waits up to `tries` seconds for a complete dist/ when another build is rewriting it.
 */
export async function snapshotPackage(root, parent, tries = 20) {
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'run-'));
  // Its own package scope: otherwise `flowgate` would resolve to `root` itself (package self-reference).
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'flowgate-bench-snapshot', private: true })}\n`);
  const target = join(dir, 'node_modules', 'flowgate');
  const remove = () => {
    rmSync(dir, { recursive: true, force: true });
    try {
      rmdirSync(parent); // only when empty: another run may be using it
    } catch {
      // not empty, or already gone
    }
  };
  for (let attempt = 1; attempt <= tries; attempt++) {
    try {
      if (complete(root)) {
        rmSync(target, { recursive: true, force: true });
        cpSync(join(root, 'package.json'), join(target, 'package.json'));
        cpSync(join(root, 'dist'), join(target, 'dist'), { recursive: true });
        if (complete(target)) return { dir, remove };
      }
    } catch {
      // dist/ changed while being copied (a concurrent build): try again.
    }
    await sleep(1000);
  }
  remove();
  throw new Error(`no complete build in ${join(root, 'dist')} after ${tries} s: run \`npm run build\` (or \`npm run bench\`, which builds first)`);
}
