// The published package: build it, `npm pack` it, install the tarball into throwaway consumer
// projects (CommonJS, ESM, TypeScript with nodenext, TypeScript with "module": "commonjs" and the
// default node10 resolution, and bundler resolution), and serve one request through the middleware.
//
// The build runs in a staged copy of the package (its own sources, the repo's node_modules linked in),
// so that rebuilding never deletes the repo's dist/ under other processes' feet.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(__dirname, '../..');
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const INSTALL_FLAGS = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

/** Top-level entries of the repo that are not copied into the staged package. */
const NOT_STAGED = new Set(['node_modules', 'dist', '.git', '.zk', '.tmp', 'coverage']);

jest.setTimeout(180_000);

/** The environment of child processes: without the npm_* variables of an enclosing `npm run`. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== 'NODE_OPTIONS') env[name] = value;
  }
  env.npm_config_update_notifier = 'false';
  return env;
}

interface Run {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command; rejects with its output when it fails. */
function run(file: string, args: string[], cwd: string, timeoutMs = 150_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: childEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${path.basename(file)} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
      } else {
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      }
    });
  });
}

function write(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

/** A tsc run: the exit code, the files it read (--listFiles), and its diagnostics (first lines). */
interface TypeCheck {
  readonly code: number;
  readonly files: string[];
  readonly errors: string[];
}

/** Runs the repo's tsc with --listFiles; resolves whatever its exit code (the caller judges the errors). */
function typeCheck(cwd: string, project: string): Promise<TypeCheck> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [TSC, '-p', project, '--listFiles', '--pretty', 'false'], { cwd, env: childEnv(), timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : error.code;
      if (typeof code !== 'number') {
        reject(new Error(`tsc -p ${project} (in ${cwd}) failed: ${error?.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
        return;
      }
      const lines = String(stdout).split(/\r?\n/);
      resolve({
        code,
        files: lines.filter((l) => /\.[cm]?ts$/.test(l) && !/error TS\d+/.test(l)).map((l) => l.replace(/\\/g, '/')),
        errors: lines.filter((l) => /error TS\d+/.test(l)),
      });
    });
  });
}

/**
 * The diagnostics that are ours: in the consumer's code, in flowgate's declarations, or global
 * (config, missing files). The peer packages' own declarations come from the repo's node_modules and
 * are not ours to check: there @types/koa 3.0.3 reads content-disposition 2's bundled types (brought in
 * by express 5.3) and misses `Options`, with or without flowgate.
 */
function ownErrors(check: TypeCheck): string[] {
  return check.errors.filter((e) => {
    const file = /^(.*?)\(\d+,\d+\): error TS/.exec(e)?.[1]?.replace(/\\/g, '/');
    return file === undefined || !file.includes('node_modules/') || file.includes('node_modules/flowgate/');
  });
}

/** The flowgate declaration files a tsc run read, relative to the installed package (dist/...). */
function flowgateFiles(check: TypeCheck, installed: string): string[] {
  const prefix = installed.replace(/\\/g, '/') + '/';
  return check.files.filter((f) => f.includes('/flowgate/dist/')).map((f) => (f.startsWith(prefix) ? f.slice(prefix.length) : `NOT INSTALLED COPY: ${f}`));
}

/** What each consumer script prints: the answer to its one request. */
interface ServeReport {
  readonly status: number;
  readonly rateLimit: string | null;
  readonly policy: string | null;
  readonly body: unknown;
  readonly expressLoadedByCore?: string[];
  /** Where `flowgate` and `flowgate/express` resolved to. */
  readonly resolved?: { core: string; express: string };
}

function lastJsonLine(stdout: string): ServeReport {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (line === undefined) throw new Error(`no JSON report in output:\n${stdout}`);
  return JSON.parse(line) as ServeReport;
}

/** The part shared by the JS consumers: serve one request on 127.0.0.1 and print what came back. */
const SERVE_ONE = `
function serveOne(app, extra) {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', async () => {
      try {
        const { port } = server.address();
        const res = await fetch('http://127.0.0.1:' + port + '/');
        const body = await res.json();
        const report = {
          status: res.status,
          rateLimit: res.headers.get('ratelimit'),
          policy: res.headers.get('ratelimit-policy'),
          body,
          ...extra,
        };
        server.close();
        server.closeAllConnections?.();
        resolve(report);
      } catch (error) {
        server.close();
        reject(error);
      }
    });
  });
}
`;

const CJS_CONSUMER = `'use strict';
const assert = require('node:assert');
const expressModules = () => Object.keys(require.cache).filter((p) => /[\\\\/]node_modules[\\\\/]express[\\\\/]/.test(p));

const core = require('flowgate');
const expressLoadedByCore = expressModules();
assert.strictEqual(typeof core.createLimiter, 'function');
assert.strictEqual(typeof core.FlowgateConfigError, 'function');

const { rateLimit, ipKey } = require('flowgate/express');
assert.strictEqual(typeof rateLimit, 'function');
assert.strictEqual(ipKey('::ffff:1.2.3.4'), '1.2.3.4');
assert.throws(() => rateLimit({ rate: 10, windowMS: 1000 }), (e) => e instanceof core.FlowgateConfigError && /interval/.test(e.message));

const express = require('express');
// The detector works: express shows up once it is really loaded.
assert.notDeepStrictEqual(expressModules(), [], 'express not found in require.cache after require("express")');
${SERVE_ONE}
const limiter = core.createLimiter({ rate: 5, burst: 5, name: 'pkg-cjs' });
const app = express();
app.use(rateLimit({ limiter }));
app.get('/', (req, res) => res.json({ remaining: req.rateLimit.remaining }));
const resolved = { core: require.resolve('flowgate'), express: require.resolve('flowgate/express') };
serveOne(app, { expressLoadedByCore, resolved }).then(
  async (report) => {
    await limiter.close();
    console.log(JSON.stringify(report));
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
`;

const ESM_CONSUMER = `import assert from 'node:assert';
import { createLimiter, FlowgateConfigError } from 'flowgate';
import { rateLimit } from 'flowgate/express';
import express from 'express';
${SERVE_ONE}
assert.strictEqual(typeof createLimiter, 'function');
assert.throws(() => rateLimit({ rate: 0 }), FlowgateConfigError);

const limiter = createLimiter({ rate: 5, burst: 5, name: 'pkg-esm' });
const app = express();
app.use(rateLimit({ limiter }));
app.get('/', (req, res) => res.json({ remaining: req.rateLimit.remaining }));
const resolved = { core: import.meta.resolve('flowgate'), express: import.meta.resolve('flowgate/express') };
const report = await serveOne(app, { resolved });
await limiter.close();
console.log(JSON.stringify(report));
`;

const TS_CONSUMER_MAIN = `import { createLimiter, FlowgateConfigError, type Decision, type Limiter } from 'flowgate';
import { rateLimit, type ExpressRateLimitMiddleware, type ExpressRateLimitOptions } from 'flowgate/express';
import express, { type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';

const limiter: Limiter = createLimiter({ rate: 5, burst: 5, name: 'pkg-ts' });
const options: ExpressRateLimitOptions = { limiter, key: (req: Request) => req.ip ?? 'unknown', headers: 'draft-8' };
const middleware: ExpressRateLimitMiddleware = rateLimit(options);
const sameLimiter: Limiter = middleware.limiter;

// Type checks only (never called): the shipped types are real, not any.
export function typeErrors(): void {
  // @ts-expect-error rate must be a number.
  rateLimit({ rate: 'fast' });
  // @ts-expect-error headers accepts only 'draft-8', 'draft-7' or false.
  rateLimit({ rate: 1, headers: 'draft-9' });
}

let configError = false;
try {
  rateLimit({ rate: 0 });
} catch (error) {
  configError = error instanceof FlowgateConfigError && error.option === 'rate';
}

const app = express();
app.use(middleware);
app.get('/', (req: Request, res: Response) => {
  // req.rateLimit comes from the package's global augmentation of Express.Request.
  const decision: Decision | undefined = req.rateLimit;
  res.json({ remaining: decision?.remaining, configError, same: sameLimiter === limiter });
});

const server = app.listen(0, '127.0.0.1', async () => {
  const { port } = server.address() as AddressInfo;
  const res = await fetch(\`http://127.0.0.1:\${port}/\`);
  const body: unknown = await res.json();
  console.log(JSON.stringify({ status: res.status, rateLimit: res.headers.get('ratelimit'), policy: res.headers.get('ratelimit-policy'), body }));
  server.close();
  server.closeAllConnections();
  await limiter.close();
});
`;

// A CommonJS TypeScript file in the same project: type-checked against the "require" types.
const TS_CONSUMER_CJS = `import flowgate = require('flowgate');
import { rateLimit, type ExpressRateLimitMiddleware } from 'flowgate/express';

const limiter: flowgate.Limiter = flowgate.createLimiter({ rate: 2, name: 'pkg-cts' });
const middleware: ExpressRateLimitMiddleware = rateLimit({ limiter, headers: 'draft-7' });
const decision: Promise<flowgate.Decision> = middleware.limiter.take('k');
decision.then(
  async (d) => {
    console.log(JSON.stringify({ allowed: d.allowed, remaining: d.remaining, same: middleware.limiter === limiter }));
    await limiter.close();
  },
  () => process.exit(1),
);
`;

// A CommonJS TypeScript project as the NestJS 10 starter makes them ("module": "commonjs" and no
// moduleResolution, so node10, which ignores `exports`): every subpath, through `typesVersions`.
// Type-checked also with "moduleResolution": "bundler" (through `exports`, the ESM types).
const TS_NODE10_MAIN = `import 'reflect-metadata';
import { createLimiter, FlowgateConfigError, type Decision, type Limiter } from 'flowgate';
import { rateLimit as expressRateLimit, ipKey, type ExpressRateLimitMiddleware } from 'flowgate/express';
import { rateLimit as koaRateLimit, type KoaRateLimitMiddleware } from 'flowgate/koa';
import { FlowgateModule, FlowgateGuard, FlowgateLimiters, RateLimit, SkipRateLimit, type FlowgateModuleOptions } from 'flowgate/nestjs';
import { flowgateMetrics, type FlowgateMetrics } from 'flowgate/metrics';
import { Controller, Get, type DynamicModule, type ExecutionContext } from '@nestjs/common';
import { Registry } from 'prom-client';
import type { Request } from 'express';
import type { Context } from 'koa';

const limiter: Limiter = createLimiter({ rate: 5, burst: 5, name: 'pkg-node10' });
const expressMiddleware: ExpressRateLimitMiddleware = expressRateLimit({ limiter, key: (req: Request) => req.ip ?? 'unknown' });
const koaMiddleware: KoaRateLimitMiddleware = koaRateLimit({ rate: 1, key: (ctx: Context) => ctx.ip });
const nestOptions: FlowgateModuleOptions = { rate: 3, key: (context: ExecutionContext) => String(context.getType()) };
const nestModule: DynamicModule = FlowgateModule.forRoot(nestOptions);
const metrics: FlowgateMetrics = flowgateMetrics({ registry: new Registry() }).observe(expressMiddleware);

@Controller('things')
@RateLimit({ name: 'things', rate: 10, interval: '1m' })
export class ThingsController {
  @Get()
  @SkipRateLimit()
  list(): string[] {
    return [];
  }
}

// Type checks only (never called): each subpath's types are real, not any.
export function typeErrors(): void {
  // @ts-expect-error rate must be a number.
  expressRateLimit({ rate: 'fast' });
  // @ts-expect-error headers accepts only 'draft-8', 'draft-7' or false.
  koaRateLimit({ rate: 1, headers: 'draft-9' });
  // @ts-expect-error RateLimit takes options objects.
  RateLimit(42);
  // @ts-expect-error prefix is a string.
  flowgateMetrics({ prefix: 1 });
  // @ts-expect-error createLimiter needs its options.
  createLimiter();
}

let configError = false;
try {
  expressRateLimit({ rate: 0 });
} catch (error) {
  configError = error instanceof FlowgateConfigError;
}

limiter.take('k').then(
  async (decision: Decision) => {
    console.log(JSON.stringify({
      allowed: decision.allowed,
      remaining: decision.remaining,
      configError,
      ip: ipKey('::ffff:1.2.3.4'),
      same: expressMiddleware.limiter === limiter,
      koa: typeof koaMiddleware,
      nest: [nestModule.module === FlowgateModule, typeof FlowgateGuard, typeof FlowgateLimiters],
    }));
    metrics.close();
    await limiter.close();
    await koaMiddleware.limiter.close();
  },
  () => process.exit(1),
);
`;

const TS_NODE10_CONFIG = {
  compilerOptions: {
    target: 'ES2021',
    module: 'commonjs',
    strict: true,
    esModuleInterop: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: 'out',
    rootDir: 'src',
  },
  include: ['src'],
};

const TS_BUNDLER_CONFIG = {
  extends: './tsconfig.json',
  compilerOptions: { module: 'esnext', moduleResolution: 'bundler', noEmit: true },
};

const TS_CONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    esModuleInterop: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: 'out',
    rootDir: 'src',
  },
  include: ['src'],
};

describe('the packed package', () => {
  let tmp: string;
  let tarball: string;
  let packedFiles: string[];
  const consumers: Record<'cjs' | 'esm' | 'ts' | 'node10', string> = { cjs: '', esm: '', ts: '', node10: '' };

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flowgate-packaging-'));

    // 1. Stage the package and build it with its own build script.
    const stage = path.join(tmp, 'package');
    fs.mkdirSync(stage);
    for (const entry of fs.readdirSync(REPO)) {
      if (NOT_STAGED.has(entry) || entry.endsWith('.tgz')) continue;
      fs.cpSync(path.join(REPO, entry), path.join(stage, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
    await run(NPM, ['run', 'build'], stage);

    // 2. Pack it.
    const packDir = path.join(tmp, 'pack');
    fs.mkdirSync(packDir);
    const packed = await run(NPM, ['pack', '--json', '--pack-destination', packDir], stage);
    const info = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const first = info[0];
    if (first === undefined) throw new Error(`npm pack reported nothing: ${packed.stdout}`);
    tarball = path.join(packDir, path.basename(first.filename));
    packedFiles = first.files.map((f) => f.path);
    expect(fs.existsSync(tarball)).toBe(true);

    // 3. The consumer projects, installed side by side.
    consumers.cjs = path.join(tmp, 'consumer-cjs');
    write(path.join(consumers.cjs, 'package.json'), JSON.stringify({ name: 'consumer-cjs', private: true, version: '1.0.0' }, null, 2));
    write(path.join(consumers.cjs, 'index.cjs'), CJS_CONSUMER);

    consumers.esm = path.join(tmp, 'consumer-esm');
    write(path.join(consumers.esm, 'package.json'), JSON.stringify({ name: 'consumer-esm', private: true, version: '1.0.0', type: 'module' }, null, 2));
    write(path.join(consumers.esm, 'index.mjs'), ESM_CONSUMER);

    consumers.ts = path.join(tmp, 'consumer-ts');
    write(path.join(consumers.ts, 'package.json'), JSON.stringify({ name: 'consumer-ts', private: true, version: '1.0.0', type: 'module' }, null, 2));
    write(path.join(consumers.ts, 'tsconfig.json'), JSON.stringify(TS_CONFIG, null, 2));
    write(path.join(consumers.ts, 'src', 'main.ts'), TS_CONSUMER_MAIN);
    write(path.join(consumers.ts, 'src', 'legacy.cts'), TS_CONSUMER_CJS);

    // The node10/bundler project gets flowgate from the tarball, and its peers (express, koa, @nestjs/*,
    // prom-client, reflect-metadata and their types) from the repo's node_modules, linked in one
    // directory up: found by walking up, and never touched by npm install.
    const withRepoModules = path.join(tmp, 'with-repo-modules');
    fs.mkdirSync(withRepoModules);
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(withRepoModules, 'node_modules'), 'dir');
    consumers.node10 = path.join(withRepoModules, 'consumer-ts-node10');
    write(path.join(consumers.node10, 'package.json'), JSON.stringify({ name: 'consumer-ts-node10', private: true, version: '1.0.0' }, null, 2));
    write(path.join(consumers.node10, 'tsconfig.json'), JSON.stringify(TS_NODE10_CONFIG, null, 2));
    write(path.join(consumers.node10, 'tsconfig.bundler.json'), JSON.stringify(TS_BUNDLER_CONFIG, null, 2));
    write(path.join(consumers.node10, 'src', 'main.ts'), TS_NODE10_MAIN);

    await Promise.all([
      run(NPM, [...INSTALL_FLAGS, tarball, 'express@^5'], consumers.cjs),
      run(NPM, [...INSTALL_FLAGS, tarball, 'express@^5'], consumers.esm),
      run(NPM, [...INSTALL_FLAGS, tarball, 'express@^5', '@types/express@^5', '@types/node@^20'], consumers.ts),
      run(NPM, [...INSTALL_FLAGS, tarball, '@types/node@^20'], consumers.node10),
    ]);
  });

  afterAll(() => {
    if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the tarball holds both builds and every exports target, and no sources or tests', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      exports: Record<string, string | Record<string, Record<string, string>>>;
      main: string;
      types: string;
    };
    const targets = new Set<string>([pkg.main, pkg.types]);
    for (const entry of Object.values(pkg.exports)) {
      if (typeof entry === 'string') targets.add(entry);
      else for (const condition of Object.values(entry)) for (const target of Object.values(condition)) targets.add(target);
    }
    for (const target of targets) expect(packedFiles).toContain(target.replace(/^\.\//, ''));
    expect(packedFiles).toContain('package.json');
    expect(packedFiles).toContain('dist/cjs/package.json');
    expect(packedFiles).toContain('dist/esm/package.json');
    const stray = packedFiles.filter((f) => /^(src|adapters|test|bench|scripts|examples|\.ci|\.zk)\//.test(f) || f.endsWith('.tgz'));
    expect(stray).toEqual([]);
  });

  test('the tarball holds the docs (every docs/*.md, and nothing else under docs/)', () => {
    const docs = packedFiles.filter((f) => f.startsWith('docs/')).sort();
    expect(docs).toContain('docs/cli.md');
    expect(docs).toContain('docs/zookeeper-store.md');
    const inRepo = fs.readdirSync(path.join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`).sort();
    expect(docs).toEqual(inRepo);
  });

  test('the relative .md links of the installed README.md and docs/*.md point at files of the package', () => {
    const installed = path.join(consumers.cjs, 'node_modules', 'flowgate');
    const pages = ['README.md', ...fs.readdirSync(path.join(installed, 'docs')).map((f) => `docs/${f}`)];
    const links: string[] = [];
    for (const page of pages) {
      const text = fs.readFileSync(path.join(installed, page), 'utf8');
      for (const match of text.matchAll(/\]\(([^)\s#]+\.md)(#[^)\s]*)?\)/g)) {
        const target = match[1] as string;
        if (/^[a-z]+:/i.test(target)) continue;
        links.push(path.posix.join(path.posix.dirname(page), target));
      }
    }
    expect(links).toContain('docs/cli.md');
    expect(links.filter((link) => !fs.existsSync(path.join(installed, link)))).toEqual([]);
  });

  test('typesVersions maps every subpath of exports to its "require" types', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { require: { types: string } }>;
      typesVersions: Record<string, Record<string, string[]>>;
    };
    const expected: Record<string, string[]> = {};
    for (const [subpath, entry] of Object.entries(pkg.exports)) {
      if (subpath === '.' || typeof entry === 'string') continue;
      expected[subpath.replace(/^\.\//, '')] = [entry.require.types];
    }
    expect(Object.keys(expected).sort()).toEqual(['express', 'koa', 'metrics', 'nestjs']);
    expect(pkg.typesVersions).toEqual({ '*': expected });
  });

  test('the installed package has a working `flowgate` command (node_modules/.bin), and its --help lists the commands', async () => {
    const bin = path.join(consumers.cjs, 'node_modules', '.bin', process.platform === 'win32' ? 'flowgate.cmd' : 'flowgate');
    expect(fs.existsSync(bin)).toBe(true);
    const { stdout } = await run(bin, ['--help'], consumers.cjs, 30_000);
    for (const command of ['status', 'reset', 'policy']) expect(stdout).toContain(command);
    // The help sends readers to docs/cli.md "in the flowgate package": it is there.
    const docs = [...stdout.matchAll(/docs\/[\w.-]+\.md/g)].map((m) => m[0]);
    expect(docs).toContain('docs/cli.md');
    for (const doc of docs) expect(fs.existsSync(path.join(consumers.cjs, 'node_modules', 'flowgate', doc))).toBe(true);
    const version = await run(bin, ['--version'], consumers.cjs, 30_000);
    expect(version.stdout.trim()).toBe((JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
  });

  test('the installed package marks dist/esm as ESM and dist/cjs as CommonJS', () => {
    const installed = path.join(consumers.cjs, 'node_modules', 'flowgate');
    expect(JSON.parse(fs.readFileSync(path.join(installed, 'dist', 'esm', 'package.json'), 'utf8'))).toEqual({ type: 'module' });
    expect(JSON.parse(fs.readFileSync(path.join(installed, 'dist', 'cjs', 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
  });

  test("CommonJS: require('flowgate') and require('flowgate/express'); the core does not load express", async () => {
    const { stdout } = await run(process.execPath, ['index.cjs'], consumers.cjs, 30_000);
    const report = lastJsonLine(stdout);
    expect(report.expressLoadedByCore).toEqual([]);
    expect(report.resolved?.core).toMatch(/[\\/]dist[\\/]cjs[\\/]src[\\/]index\.js$/);
    expect(report.resolved?.express).toMatch(/[\\/]dist[\\/]cjs[\\/]adapters[\\/]express[\\/]index\.js$/);
    expect(report.status).toBe(200);
    expect(report.policy).toBe('"pkg-cjs";q=5;w=1');
    expect(report.rateLimit).toBe('"pkg-cjs";r=4;t=1');
    expect(report.body).toEqual({ remaining: 4 });
  });

  test("ESM: import { createLimiter } from 'flowgate' and { rateLimit } from 'flowgate/express'", async () => {
    const { stdout } = await run(process.execPath, ['index.mjs'], consumers.esm, 30_000);
    const report = lastJsonLine(stdout);
    expect(report.status).toBe(200);
    expect(report.resolved?.core).toMatch(/\/dist\/esm\/src\/index\.js$/);
    expect(report.resolved?.express).toMatch(/\/dist\/esm\/adapters\/express\/index\.js$/);
    expect(report.policy).toBe('"pkg-esm";q=5;w=1');
    expect(report.rateLimit).toBe('"pkg-esm";r=4;t=1');
    expect(report.body).toEqual({ remaining: 4 });
  });

  test('TypeScript (nodenext): both subpaths type-check, for import and require, and run', async () => {
    const check = await typeCheck(consumers.ts, 'tsconfig.json');
    expect(check.errors).toEqual([]);
    expect(check.code).toBe(0);
    // main.ts (ESM) reads the "import" types, legacy.cts the "require" types.
    const read = flowgateFiles(check, path.join(consumers.ts, 'node_modules', 'flowgate'));
    expect(read).toEqual(expect.arrayContaining(['dist/esm/adapters/express/index.d.ts', 'dist/cjs/adapters/express/index.d.ts']));
    const { stdout } = await run(process.execPath, [path.join('out', 'main.js')], consumers.ts, 30_000);
    const report = lastJsonLine(stdout);
    expect(report.status).toBe(200);
    expect(report.policy).toBe('"pkg-ts";q=5;w=1');
    expect(report.rateLimit).toBe('"pkg-ts";r=4;t=1');
    expect(report.body).toEqual({ remaining: 4, configError: true, same: true });

    const legacy = await run(process.execPath, [path.join('out', 'legacy.cjs')], consumers.ts, 30_000);
    expect(JSON.parse(legacy.stdout.trim())).toEqual({ allowed: true, remaining: 1, same: true });
  });

  const SUBPATH_TYPES = ['src/index.d.ts', 'adapters/express/index.d.ts', 'adapters/koa/index.d.ts', 'adapters/nestjs/index.d.ts', 'adapters/metrics/index.d.ts'];

  test('TypeScript ("module": "commonjs", default node10 resolution, strict): all five entry points type-check through typesVersions, and run', async () => {
    const check = await typeCheck(consumers.node10, 'tsconfig.json');
    expect(ownErrors(check)).toEqual([]);
    const read = flowgateFiles(check, path.join(consumers.node10, 'node_modules', 'flowgate'));
    expect(read).toEqual(expect.arrayContaining(SUBPATH_TYPES.map((f) => `dist/cjs/${f}`)));
    expect(read.filter((f) => !f.startsWith('dist/cjs/'))).toEqual([]);

    const { stdout } = await run(process.execPath, [path.join('out', 'main.js')], consumers.node10, 30_000);
    const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? stdout;
    expect(JSON.parse(line)).toEqual({
      allowed: true,
      remaining: 4,
      configError: true,
      ip: '1.2.3.4',
      same: true,
      koa: 'function',
      nest: [true, 'function', 'function'],
    });
  });

  test('TypeScript ("moduleResolution": "bundler"): the same code type-checks through exports, on the ESM types', async () => {
    const check = await typeCheck(consumers.node10, 'tsconfig.bundler.json');
    expect(ownErrors(check)).toEqual([]);
    const read = flowgateFiles(check, path.join(consumers.node10, 'node_modules', 'flowgate'));
    expect(read).toEqual(expect.arrayContaining(SUBPATH_TYPES.map((f) => `dist/esm/${f}`)));
    expect(read.filter((f) => !f.startsWith('dist/esm/'))).toEqual([]);
  });
});
