// Renders a cluster snapshot as the text of `flowgate status`: limiters, hot keys, queues, members, degraded members.

import type { ClusterSnapshot, LimiterStatus } from './cluster-snapshot.js';
import type { MemberInfo } from './member-nodes.js';
import { cell, formatInterval, formatMs, formatNumber, renderTable } from './text-table.js';

/** The status text of `snapshot` (no trailing newline). */
export function renderStatus(snapshot: ClusterSnapshot): string {
  const { members, clock } = snapshot;
  const clockNote = clock.source === 'local' ? 'local clock' : `ZooKeeper's clock: the local one is at least ${formatMs(clock.localBehindMs)} behind`;
  const sections = [
    `flowgate status of ${snapshot.root} at ${snapshot.connect}, ${new Date(clock.now).toISOString()} (${clockNote})\n` +
      `members: ${members.count}${members.degraded > 0 ? ` (${members.degraded} degraded)` : ''}, limiters: ${snapshot.limiters.length}, queues: ${snapshot.queues.length}`,
    limitersSection(snapshot.limiters),
    ...snapshot.limiters.map(hotKeysSection).filter((s): s is string => s !== undefined),
    queuesSection(snapshot),
    membersSection('MEMBERS', members.list.filter((m) => m.state !== 'degraded')),
    membersSection('DEGRADED MEMBERS', members.list.filter((m) => m.state === 'degraded')),
  ];
  return sections.filter((s) => s !== '').join('\n\n');
}

function limitersSection(limiters: readonly LimiterStatus[]): string {
  if (limiters.length === 0) return 'LIMITERS\n(none)';
  const rows = limiters.map((l) => [
    cell(l.name ?? `#${l.hash}`, 44),
    l.rate !== null && l.intervalMs !== null ? `${formatNumber(l.rate)}/${formatInterval(l.intervalMs)}` : '?',
    l.burst === null ? '?' : String(l.burst),
    l.strict === null ? '?' : l.strict ? 'yes' : 'no',
    l.policy === null ? '-' : `v${l.policy.version} ${formatNumber(l.policy.rate)}/${formatInterval(l.policy.intervalMs)} burst ${l.policy.burst}`,
    l.policy === null ? '' : `${l.membersOnPolicy}/${l.membersReporting}`,
    `${l.buckets.total}${l.buckets.capped ? '+' : ''}`,
    String(l.buckets.waiting),
    String(l.queue.queued),
    l.queue.queued > 0 ? formatMs(l.queue.oldestWaitMs) : '-',
  ]);
  const table = renderTable(
    [
      { header: 'name' },
      { header: 'rate' },
      { header: 'burst', right: true },
      { header: 'strict' },
      { header: 'policy' },
      { header: 'on policy' },
      { header: 'buckets', right: true },
      { header: 'waiting', right: true },
      { header: 'queued', right: true },
      { header: 'oldest wait', right: true },
    ],
    rows,
  );
  return `LIMITERS\n${table}`;
}

function hotKeysSection(l: LimiterStatus): string | undefined {
  if (l.buckets.total === 0) return undefined;
  const title = `HOT KEYS of ${cell(l.name ?? `#${l.hash}`, 44)}: ${l.buckets.belowBurst} of ${l.buckets.scanned} buckets below burst, fewest tokens first`;
  const notes = [
    l.buckets.capped ? `(scan capped: read ${l.buckets.scanned} of ${l.buckets.total} buckets; --scan-limit reads more)` : '',
    l.buckets.unreadable > 0 ? `(${l.buckets.unreadable} znodes did not hold flowgate bucket data)` : '',
  ].filter((n) => n !== '');
  if (l.hotKeys.length === 0) return [title, '(none)', ...notes].join('\n');
  const rows = l.hotKeys.map((k) => [cell(k.key), formatNumber(k.tokens), k.burst === null ? '?' : String(k.burst), k.ratePerSec === null ? '?' : formatNumber(k.ratePerSec, 3), String(k.waiting)]);
  const table = renderTable([{ header: 'key' }, { header: 'tokens', right: true }, { header: 'burst', right: true }, { header: 'rate/s', right: true }, { header: 'waiting', right: true }], rows);
  return [title, table, ...notes].join('\n');
}

function queuesSection(snapshot: ClusterSnapshot): string {
  if (snapshot.queues.length === 0) return '';
  const rows = snapshot.queues.map((q) => [cell(q.name ?? `#${q.hash}`, 44), String(q.items), String(q.inProgress), String(q.dead), q.oldestWaitMs === null ? '-' : formatMs(q.oldestWaitMs)]);
  const table = renderTable([{ header: 'name' }, { header: 'items', right: true }, { header: 'in progress', right: true }, { header: 'dead', right: true }, { header: 'oldest wait', right: true }], rows);
  return `QUEUES (DistributedQueue)\n${table}`;
}

function membersSection(title: string, members: readonly MemberInfo[]): string {
  if (members.length === 0) return title === 'MEMBERS' ? `${title}\n(none)` : '';
  const degraded = title !== 'MEMBERS';
  const rows = members.map((m) => {
    const reports = Object.values(m.limiters);
    return [
      m.id,
      cell(m.host ?? '?', 30),
      m.pid === null ? '?' : String(m.pid),
      m.since ?? '?',
      degraded ? (m.degradedSince ?? '?') : (m.state ?? '?'),
      m.at ?? '?',
      String(reports.reduce((sum, r) => sum + r.queued, 0)),
    ];
  });
  const table = renderTable(
    [{ header: 'id' }, { header: 'host' }, { header: 'pid', right: true }, { header: 'since' }, { header: degraded ? 'degraded since' : 'state' }, { header: 'updated' }, { header: 'queued', right: true }],
    rows,
  );
  return `${title}\n${table}`;
}
