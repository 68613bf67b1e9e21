// Builds the package (dist/) once when a test file needs it and it is missing.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './wait.js';

const REPO = path.resolve(__dirname, '../..');
/** The built CommonJS entry that child processes load through the package's exports. */
export const BUILT = path.join(REPO, 'dist', 'cjs', 'src', 'index.js');
const BUILD_LOCK = path.join(REPO, '.zk', '.build-lock');

/**
 * Builds the package when dist/ is missing (scripts/test.sh builds before Jest; a plain `npx jest`
 * may not have). A lock directory keeps parallel test files from building at the same time.
 */
export async function ensureBuilt(): Promise<void> {
  if (fs.existsSync(BUILT)) return;
  fs.mkdirSync(path.dirname(BUILD_LOCK), { recursive: true });
  await waitFor(() => {
    try {
      fs.mkdirSync(BUILD_LOCK);
      return true;
    } catch {
      return fs.existsSync(BUILT);
    }
  }, 180_000, 'the build lock', 200);
  try {
    if (!fs.existsSync(BUILT)) execFileSync(process.execPath, [path.join(REPO, 'scripts', 'build.mjs')], { cwd: REPO, stdio: 'pipe', timeout: 170_000 });
  } finally {
    fs.rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}
