// Test data for the CLI: a ZooKeeper session to write fixtures (member nodes, limiter nodes, ACL'd roots), and a fresh root per test.

import { createHash } from 'node:crypto';
import zookeeper, { type ACL } from 'node-zookeeper-client';
import { ZooKeeperSession } from '../../../src/stores/zookeeper/zookeeper-session.js';
import { removeRoot } from '../../zookeeper/helpers/raw-client.js';

export const EPHEMERAL = 1;
export const PERSISTENT = 0;

/** A connected session for writing fixtures (close it after the test; its ephemeral nodes go with it). */
export async function fixtureSession(connect: string, digest?: string): Promise<ZooKeeperSession> {
  const session = new ZooKeeperSession({ connect, sessionTimeoutMs: 6000, callTimeoutMs: 10_000, ...(digest !== undefined && { digest }) });
  session.start();
  await session.ready(15_000);
  return session;
}

/** A fresh root for one test: `/cli-test-<label>-<random>`. */
export function freshRoot(label: string): string {
  return `/cli-test-${label}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Removes `root` and everything under it (best effort; with the credential that protects it, if any). */
export async function dropRoot(connect: string, root: string, digest?: string): Promise<void> {
  await removeRoot(connect, root, digest).catch(() => undefined);
}

/** An ACL that lets only the holder of `credential` do anything: not even reading for others. */
export function digestOnlyAcl(credential: string): ACL[] {
  const user = credential.slice(0, credential.indexOf(':'));
  const hash = createHash('sha1').update(credential).digest('base64');
  return [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('digest', `${user}:${hash}`))];
}

/** Writes `json` into the node at `path` if it holds no data yet (a stand-in for what a newer store writes itself). */
export async function fillIfEmpty(session: ZooKeeperSession, path: string, json: unknown): Promise<void> {
  const { data } = await session.getData(path);
  if (data === undefined || data.length === 0) await session.setData(path, Buffer.from(JSON.stringify(json)), -1);
}
