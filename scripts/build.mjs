// Builds dist/esm and dist/cjs from one TypeScript source, so the package loads from import and require.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
// Built aside, then swapped in: a failed build leaves the last good dist/ in place, and a build in
// progress never leaves processes that load dist/ without one for long.
const next = `dist.next-${process.pid}`;
rmSync(next, { recursive: true, force: true });
const run = (args) => execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...args], { stdio: 'inherit' });
try {
  run(['--outDir', `${next}/esm`]);
  run(['--outDir', `${next}/cjs`, '--module', 'commonjs', '--moduleResolution', 'node10']);
  for (const [dir, type] of [[`${next}/esm`, 'module'], [`${next}/cjs`, 'commonjs']]) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/package.json`, JSON.stringify({ type }) + '\n');
  }
} catch (error) {
  rmSync(next, { recursive: true, force: true });
  throw error;
}
const old = `dist.old-${process.pid}`;
if (existsSync('dist')) renameSync('dist', old);
renameSync(next, 'dist');
rmSync(old, { recursive: true, force: true });
