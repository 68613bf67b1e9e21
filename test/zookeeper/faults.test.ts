// Faults under steady load, on a PRIVATE 3-node ensemble (this file kills, pauses and restarts its
// servers): (a) leader SIGKILL, (b) the server an app is connected to SIGSTOPped, (c) every server
// stopped then started again, (d) session expiry (an app SIGSTOPped for longer than its session).
// Two groups of two app processes run through every fault, one with onUnavailable 'local', one with
// 'closed' (rate 100/s, burst 100, offered 150/s per group). For each fault: every request is
// answered in bounded time, only with what the policy allows ('local': 200/429; 'closed': also 503
// temporary-reduced-capacity with Retry-After); admitted stays within burst + rate x T (+ the local
// fallback's allowance); and every app returns to shared mode by itself, in a time reported here.

import { ensureBuilt, spawnApp, waitUntilShared, type AppProcess, type AppStats } from './helpers/app-processes.js';
import { followersConnect, healEnsemble, leaderOf, member, restartQuorum, startCluster, type Cluster } from './helpers/cluster.js';
import { Load, TEMPORARY_REDUCED_CAPACITY } from './helpers/load.js';
import { connectedPort } from './helpers/sockets.js';
import { sleep, uniqueRoot, waitFor } from '../helpers/wait.js';

jest.setTimeout(120_000);

const RATE = 100;
const BURST = 100;
const OFFERED_PER_GROUP = 150;
const UNAVAILABLE_AFTER_MS = 1_000;
const SESSION_TIMEOUT = '2s';
/**
 * How long any decision may take: unavailableAfter, plus slack for a loaded 2-core machine (JVMs
 * starting, GC). A decision that waits for ZooKeeper past unavailableAfter is a bug.
 */
const LATENCY_BOUND_MS = UNAVAILABLE_AFTER_MS + 1_000;
/** Every app must be back in shared mode within this long: after the fault began when the cluster heals itself (a, b), after it ended (c, d). */
const RECOVERY_BOUND_MS = 15_000;

type Policy = 'local' | 'closed';

interface Group {
  readonly policy: Policy;
  readonly apps: AppProcess[];
}

let cluster: Cluster;
const root = uniqueRoot('faults');
const groups: Group[] = [];
const allApps = (): AppProcess[] => groups.flatMap((g) => g.apps);

/** The configuration of an app of these tests: its store's connect string, root and onUnavailable; the same limit for all. */
function appConfig(connect: string, appRoot: string, policy: 'local' | 'closed') {
  return {
    store: { connect, root: appRoot, onUnavailable: policy, sessionTimeout: SESSION_TIMEOUT, unavailableAfter: `${UNAVAILABLE_AFTER_MS}ms` },
    limiter: { rate: RATE, interval: '1s', burst: BURST, name: 'faults' },
  };
}

beforeAll(async () => {
  await ensureBuilt();
  cluster = startCluster('t-faults', 'ensemble', 24230);
  for (const policy of ['local', 'closed'] as const) {
    const config = appConfig(cluster.connect, `${root}-${policy}`, policy);
    groups.push({ policy, apps: await Promise.all([0, 1].map(() => spawnApp(config))) });
  }
  for (const g of groups) await waitUntilShared(g.apps, 2);
});

afterAll(async () => {
  await Promise.all(allApps().map((a) => a.stop()));
  cluster?.stop();
});

beforeEach(async () => {
  await healEnsemble(cluster);
  for (const g of groups) await waitUntilShared(g.apps, 2, 30_000);
});

/** Samples every app's /stats every 100 ms (a paused app's samples just go missing). */
class StatsMonitor {
  readonly samples = new Map<AppProcess, Array<{ at: number; stats: AppStats }>>();
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(private readonly apps: AppProcess[]) {
    this.loops = apps.map(async (app) => {
      const list: Array<{ at: number; stats: AppStats }> = [];
      this.samples.set(app, list);
      while (this.running) {
        const stats = await app.getJson<AppStats>('/stats', 1_000).catch(() => undefined);
        if (stats !== undefined) list.push({ at: performance.now(), stats });
        await sleep(100);
      }
    });
  }

  seen(app: AppProcess, predicate: (s: AppStats) => boolean, after = 0): boolean {
    return (this.samples.get(app) ?? []).some((s) => s.at >= after && predicate(s.stats));
  }

  /**
   * When every app was back in shared mode (available, 2 members) for good after `since`: the
   * first all-good moment after the last sample that was not (`sharedAt`, when the test saw it, if
   * no later sample). `since` itself when no sample was bad.
   */
  backAt(since: number, sharedAt: number): number {
    const bad = (s: AppStats): boolean => !s.available || s.members !== 2;
    let lastBad = Number.NEGATIVE_INFINITY;
    for (const list of this.samples.values()) for (const s of list) if (s.at >= since && bad(s.stats)) lastBad = Math.max(lastBad, s.at);
    if (!Number.isFinite(lastBad)) return since;
    const next = this.apps.map((app) => (this.samples.get(app) ?? []).find((s) => s.at > lastBad && !bad(s.stats))?.at ?? sharedAt);
    return Math.min(sharedAt, Math.max(...next));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/** Waits until every app is available with 2 members. */
function allShared(timeoutMs: number, what: string): Promise<number> {
  return waitFor(async () => (await Promise.all(allApps().map((a) => a.stats()))).every((s) => s.available && s.members === 2), timeoutMs, what, 100);
}

interface FaultTimes {
  /** From the fault's start until every app was back in shared mode for good. */
  readonly backAfterStartMs: number;
  /** From the fault's end (the servers back, the app resumed) until then; 0 when back before. */
  readonly backAfterEndMs: number;
  readonly faultMs: number;
}

/**
 * Runs one fault under load: 2 s of steady load, `inject` (which resolves when the fault is over),
 * then waits until every app is back in shared mode, then 2 more seconds of load. Checks every
 * request, the admitted bound and the events, and returns when shared mode came back.
 */
async function underLoad(name: string, inject: () => Promise<void>, loads: Map<Group, Load> = new Map()): Promise<FaultTimes> {
  const before = new Map<AppProcess, AppStats>();
  for (const app of allApps()) before.set(app, await app.stats());
  for (const g of groups) {
    if (!loads.has(g)) loads.set(g, new Load({ ports: g.apps.map((a) => a.port), rate: OFFERED_PER_GROUP, key: `fault-${name}`, timeoutMs: 10_000 }));
    loads.get(g)?.start();
  }
  await sleep(2_000);
  const monitor = new StatsMonitor(allApps());
  const injectedAt = performance.now();
  let healedAt = injectedAt;
  let sharedAt = injectedAt;
  try {
    await inject();
    healedAt = performance.now();
    await allShared(RECOVERY_BOUND_MS + 5_000, `every app back in shared mode after ${name}`);
    sharedAt = performance.now();
  } finally {
    await monitor.stop();
  }
  const backAt = monitor.backAt(injectedAt, sharedAt);
  const times = { backAfterStartMs: backAt - injectedAt, backAfterEndMs: Math.max(0, backAt - healedAt), faultMs: healedAt - injectedAt };
  const recoveredWrites = new Map<AppProcess, number>();
  for (const app of allApps()) recoveredWrites.set(app, (await app.stats()).writes);
  await sleep(2_000);

  for (const g of groups) {
    const result = await (loads.get(g) as Load).stop();
    // Each app's clock is its own: `now` in its stats, read against this process's clock, maps its times here (within the round trip).
    const fetched = await Promise.all(g.apps.map(async (a) => ({ stats: await a.stats(), at: performance.now() })));
    const stats = fetched.map((f) => f.stats);
    // Local fallback allowance: each unavailability episode may admit this process's share of the
    // burst again, plus its share of the rate for the episode's length (rate and burst / members).
    const episodes = stats.map((s, i) => s.episodes.filter((e) => e.end >= (before.get(g.apps[i] as AppProcess) as AppStats).now));
    const allowance =
      g.policy === 'local'
        ? episodes.flat().reduce((sum, e) => sum + Math.ceil(BURST / Math.max(1, e.members)) + ((RATE / Math.max(1, e.members)) * (e.end - e.start + 20)) / 1000, 0)
        : 0;
    // The refill window: from the first request sent (the bucket is made no earlier) to the answer of
    // the last one admitted (its token was taken no later). The sending span alone ends before the
    // last requests were decided: refill in their latency (100 tokens/s) counted against the bound,
    // which left 8-11 tokens of margin in an unloaded run.
    const firstSentAt = Math.min(...result.outcomes.map((o) => o.sentAt));
    const lastAdmittedAt = Math.max(firstSentAt, ...result.outcomes.filter((o) => o.status === 200).map((o) => o.sentAt + o.ms));
    const windowMs = lastAdmittedAt - firstSentAt;
    const bound = BURST + (RATE * windowMs) / 1000;
    console.log(
      `fault ${name}, '${g.policy}': sent ${result.sent} in ${(result.spanMs / 1000).toFixed(1)} s (last admitted answered ${(windowMs - result.spanMs).toFixed(0)} ms after the last send); 200: ${result.admitted}, 429: ${result.limited}, 503: ${result.unavailable}, ` +
        `failed: ${result.failed.length}; admitted ${result.admitted} vs burst + rate x T ${bound.toFixed(0)} (+ local allowance ${allowance.toFixed(0)}); ` +
        `latency p50 ${result.p50Ms.toFixed(0)} / p99 ${result.p99Ms.toFixed(0)} / max ${result.maxMs.toFixed(0)} ms; ` +
        `unavailable episodes per app (ms): ${episodes.map((list) => `[${list.map((e) => (e.end - e.start).toFixed(0)).join(',')}]`).join(' ')}; ` +
        `events (degraded/recovered) per app: ${stats.map((s) => `${s.events.filter((e) => e.event === 'degraded').length}/${s.events.filter((e) => e.event === 'recovered').length}`).join(' ')}`,
    );

    // Every request was answered, in bounded time, with what the policy allows.
    expect(result.failed.slice(0, 3)).toEqual([]);
    expect(result.answered).toBe(result.sent);
    expect(result.outcomes.filter((o) => o.ms > LATENCY_BOUND_MS).map((o) => Math.round(o.ms))).toEqual([]);
    if (g.policy === 'local') {
      expect(result.unavailable).toBe(0);
    } else {
      const bad503 = result.outcomes.filter((o) => o.status === 503 && (o.problemType !== TEMPORARY_REDUCED_CAPACITY || !(Number(o.retryAfter) >= 1)));
      expect(bad503.slice(0, 3)).toEqual([]);
      // ... and only while ZooKeeper was away: from the fault (a request already waiting then
      // included) until shared mode was back (the last samples are 100 ms apart). An episode shorter
      // than those samples (a session that moved at once, the decisions in flight on the silent
      // server answered by the policy) is seen by the app's own 10 ms sampler: its end counts too.
      const episodeEnds = fetched.flatMap((f, i) => (episodes[i] ?? []).map((e) => e.end + (f.at - f.stats.now)));
      const lastAway = Math.max(backAt, ...episodeEnds.filter((end) => end >= injectedAt));
      const outside = result.outcomes.filter((o) => o.status === 503 && (o.sentAt < injectedAt - LATENCY_BOUND_MS || o.sentAt > lastAway + 500));
      expect(outside.map((o) => Math.round(o.sentAt - injectedAt))).toEqual([]);
    }
    expect(result.admitted).toBeLessThanOrEqual(bound + allowance + 1);
    for (const [i, app] of g.apps.entries()) {
      const s = stats[i] as AppStats;
      // Shared mode really came back: every app that got load wrote to its bucket again ...
      if (result.outcomes.some((o) => o.target === i && o.sentAt > backAt + 200)) expect(s.writes).toBeGreaterThan(recoveredWrites.get(app) as number);
      // ... and every 'degraded' it announced was followed by 'recovered'.
      expect(s.events.filter((e) => e.event === 'recovered').length).toBe(s.events.filter((e) => e.event === 'degraded').length);
    }
  }
  console.log(
    `fault ${name}: lasted ${times.faultMs.toFixed(0)} ms; every app back in shared mode ${times.backAfterStartMs.toFixed(0)} ms after it began, ` +
      `${times.backAfterEndMs.toFixed(0)} ms after it ended`,
  );
  return times;
}

test('(a) leader SIGKILL', async () => {
  let leader = 0;
  const times = await underLoad('a-leader-kill', async () => {
    leader = await leaderOf(cluster);
    await member(cluster, leader, 'kill');
    // The two survivors elect a leader; the apps carry on with them (at least 3 s of it).
    await Promise.all([sleep(3_000), allShared(RECOVERY_BOUND_MS, 'every app back in shared mode with two servers')]);
  });
  console.log(`fault a: killed member ${leader} (the leader)`);
  expect(times.backAfterStartMs).toBeLessThan(RECOVERY_BOUND_MS);
  await member(cluster, leader, 'restart');
});

test('(b) the server an app is connected to SIGSTOPped', async () => {
  // Pause the server that an app is connected to, seen from outside through /proc: the app must
  // notice the silent server (the client has no read timeout) and move to another, and every app
  // must be back in shared mode while that server is still paused. The app watched is one of its
  // own, connected to the followers only, so that the server paused is never the leader (see
  // followersConnect): a silent follower is the fault under test, not ZooKeeper's own recovery
  // from a paused leader.
  const { connect: followers, leader } = await followersConnect(cluster);
  const app = await spawnApp(appConfig(followers, `${root}-b-watched`, 'local'));
  let paused = 0;
  let movedMs = Number.NaN;
  let backWhilePaused: number | Error = Number.NaN;
  try {
    await waitUntilShared([app], 1);
    const times = await underLoad('b-connected-paused', async () => {
      const port = connectedPort(app.pid, cluster.ports);
      expect(port).toBeDefined();
      paused = cluster.ports.indexOf(port as number) + 1;
      const pausedAt = performance.now();
      await member(cluster, paused, 'pause');
      try {
        movedMs = await waitFor(() => {
          const now = connectedPort(app.pid, cluster.ports);
          return now !== undefined && now !== port;
        }, 10_000, 'the app to connect to another server');
        await sleep(Math.max(0, 3_000 - (performance.now() - pausedAt)));
        backWhilePaused = await allShared(RECOVERY_BOUND_MS, 'every app back in shared mode while the server is paused').catch((error: Error) => error);
      } finally {
        await member(cluster, paused, 'resume');
      }
    });
    console.log(`fault b: paused member ${paused} (a follower; the leader is ${leader}); the app moved to another server ${movedMs.toFixed(0)} ms after the pause`);
    expect(paused).not.toBe(leader);
    // Detection is promised within about sessionTimeout/3 + unavailableAfter (1.7 s here); the client
    // alone stays silent 10 s and more. Two seconds of slack: under a full parallel test run on 2
    // cores, the move was seen 2.9 s after the pause (the app's probe timer and /proc polling run late).
    expect(movedMs).toBeLessThan(2_000 / 3 + UNAVAILABLE_AFTER_MS + 2_000);
    expect(backWhilePaused).not.toBeInstanceOf(Error);
    expect(times.backAfterStartMs).toBeLessThan(RECOVERY_BOUND_MS);
  } finally {
    await app.stop();
  }
});

test('(c) every server stopped, then started again', async () => {
  // The fault is over when a quorum (members 1 and 2) serves again; member 3 follows afterwards.
  let restartMs = 0;
  const times = await underLoad('c-all-stopped', async () => {
    await Promise.all([1, 2, 3].map((n) => member(cluster, n, 'kill')));
    await sleep(4_000);
    const start = performance.now();
    await restartQuorum(cluster);
    restartMs = performance.now() - start;
  });
  console.log(`fault c: 4 s with every server stopped, then ${restartMs.toFixed(0)} ms until a quorum served`);
  expect(times.backAfterEndMs).toBeLessThan(RECOVERY_BOUND_MS);
  await member(cluster, 3, 'restart');
});

test('(d) session expiry: an app SIGSTOPped for longer than its session timeout', async () => {
  // One app of each group is paused; its load is switched off first (a stopped process cannot
  // answer), and the other app of its group must see it leave (its member node expires).
  const loads = new Map<Group, Load>(groups.map((g) => [g, new Load({ ports: g.apps.map((a) => a.port), rate: OFFERED_PER_GROUP, key: 'fault-d-expiry', timeoutMs: 10_000 })]));
  const monitor = new StatsMonitor(allApps());
  let pausedAt = 0;
  let resumedAt = 0;
  try {
    const times = await underLoad(
      'd-session-expiry',
      async () => {
        for (const load of loads.values()) load.enabled[0] = false;
        await waitFor(() => [...loads.values()].every((l) => l.pending(0) === 0), 5_000, 'requests to the apps about to pause');
        for (const g of groups) (g.apps[0] as AppProcess).child.kill('SIGSTOP');
        pausedAt = performance.now();
        try {
          // The survivors see the paused member's session expire (sessionTimeout 2 s).
          await waitFor(() => groups.every((g) => monitor.seen(g.apps[1] as AppProcess, (s) => s.members === 1, pausedAt)), 15_000, 'the paused apps to leave the membership');
          await sleep(1_000);
        } finally {
          for (const g of groups) (g.apps[0] as AppProcess).child.kill('SIGCONT');
          resumedAt = performance.now();
        }
        for (const load of loads.values()) load.enabled[0] = true;
      },
      loads,
    );
    console.log(`fault d: apps paused for ${(resumedAt - pausedAt).toFixed(0)} ms`);
    expect(times.backAfterEndMs).toBeLessThan(RECOVERY_BOUND_MS);
  } finally {
    await monitor.stop();
  }
  // The resumed apps registered again (new session): the survivors count 2 again.
  for (const g of groups) expect(monitor.seen(g.apps[1] as AppProcess, (s) => s.members === 2, resumedAt)).toBe(true);
});
