// The cluster bench's order analysis (bench/cluster/order.mjs): inverted pairs, the window, and the floor of writes.

import { execFileSync } from 'node:child_process';
import path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..');

interface Item {
  id: number;
  pid: number;
  arrivedAt: number;
  admittedAt: number;
}

/** Runs one function of bench/cluster/order.mjs on `items` in a child node (the bench is plain ESM, outside ts-jest). */
function run(fn: 'inversions' | 'fewestWrites', items: Item[]): any {
  const script = `import { ${fn} } from ${JSON.stringify(path.join(REPO, 'bench', 'cluster', 'order.mjs'))};
let text = ''; process.stdin.on('data', (c) => (text += c)).on('end', () => process.stdout.write(JSON.stringify(${fn}(JSON.parse(text)))));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { input: JSON.stringify(items), encoding: 'utf8', timeout: 20_000 }));
}

const item = (id: number, pid: number, arrivedAt: number, admittedAt: number): Item => ({ id, pid, arrivedAt, admittedAt });

describe('inversions', () => {
  it('counts pairs admitted against their arrival order, and apart those that arrived more than 10 ms apart', () => {
    const result = run('inversions', [
      item(1, 1, 1000, 1100),
      item(2, 2, 1005, 1090), // 5 ms after 1, admitted before it: within the window
      item(3, 3, 1020, 1080), // 20 ms after 1 and 15 ms after 2, admitted before both: beyond it
      item(4, 1, 1030, 1100), // admitted in the same ms as 1: not an inversion
      item(5, 2, 1040, 1150),
    ]);
    expect(result).toMatchObject({ requests: 5, pairs: 10, inversions: 3, involved: 3, maxOvertakeMs: 20, maxArrivalGapMs: 20 });
    // Of the 10 pairs, 3 arrived 10 ms apart or less (1-2, 3-4, 4-5).
    expect(result.beyondWindow).toMatchObject({ windowMs: 10, pairs: 7, inversions: 2, maxOvertakeMs: 20, latestSinceStartMs: 5 });
    expect(result.beyondWindow.worst).toEqual({ earlier: 1, later: 3, earlierPid: 1, laterPid: 3, sinceStartMs: 0, arrivalGapMs: 20, overtakeMs: 20 });
  });

  it('finds none in arrival order', () => {
    const result = run('inversions', [item(1, 1, 0, 50), item(2, 2, 12, 70), item(3, 3, 24, 90)]);
    expect(result).toMatchObject({ pairs: 3, inversions: 0, beyondWindow: { pairs: 3, inversions: 0 } });
  });
});

describe('fewestWrites (the floor)', () => {
  it('one write books every waiter of a process that arrived by the turn of its earliest one', () => {
    expect(run('fewestWrites', [item(1, 1, 0, 100), item(2, 1, 10, 120), item(3, 1, 20, 140), item(4, 1, 30, 160)])).toBe(1);
  });

  it('a waiter that arrives after that turn needs a write of its own', () => {
    // The write at 60 books the waiters of 0 and 50; the one of 200 is booked by its turn, at 260.
    expect(run('fewestWrites', [item(1, 1, 0, 60), item(2, 1, 50, 110), item(3, 1, 200, 260)])).toBe(2);
  });

  it('short waits cost a write each, and processes count apart', () => {
    const shortWaits = [item(1, 1, 0, 10), item(2, 1, 30, 40), item(3, 1, 60, 70)];
    expect(run('fewestWrites', shortWaits)).toBe(3);
    expect(run('fewestWrites', [...shortWaits, item(4, 2, 5, 200), item(5, 2, 35, 210)])).toBe(4);
  });
});
