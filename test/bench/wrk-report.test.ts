// The benchmark's reading of wrk's report (bench/wrk.mjs): counts, durations, latency units, errors and non-2xx answers.

import { execFileSync } from 'node:child_process';
import path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..');

/** wrk 4.1's report of a run against a server answering every fourth request with 429 (captured here). */
const REPORT_WITH_NON_2XX = `Running 1s test @ http://127.0.0.1:43399/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   109.40us  329.18us   4.68ms   95.45%
    Req/Sec    80.58k    25.92k   99.35k    90.00%
  Latency Distribution
     50%   43.00us
     75%   58.00us
     90%  108.00us
     99%    1.83ms
  79853 requests in 1.00s, 9.65MB read
  Non-2xx or 3xx responses: 19963
Requests/sec:  79771.79
Transfer/sec:      9.64MB
`;

/** The same layout with socket errors (wrk prints that line only when there were some) and times in seconds. */
const REPORT_WITH_SOCKET_ERRORS = `Running 3s test @ http://127.0.0.1:40000/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    5.00ms    1.20s    99.00%
    Req/Sec    20.00k     1.00k   22.00k    70.00%
  Latency Distribution
     50%    1.50ms
     75%    2.00ms
     90%    3.00ms
     99%    1.01s
  60123 requests in 3.01s, 8.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
Requests/sec:  19974.42
Transfer/sec:      2.66MB
`;

/** Runs bench/wrk.mjs's parseWrk on `report` in a child node (the bench is plain ESM, outside ts-jest). */
function parse(report: string): unknown {
  const script = `import { parseWrk } from ${JSON.stringify(path.join(REPO, 'bench', 'wrk.mjs'))};
let text = ''; process.stdin.on('data', (c) => (text += c)).on('end', () => {
  try { process.stdout.write(JSON.stringify(parseWrk(text))); } catch (error) { process.stdout.write(JSON.stringify({ error: error.message })); }
});`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { input: report, encoding: 'utf8', timeout: 20_000 }));
}

describe('bench/wrk.mjs parseWrk', () => {
  it('reads requests, seconds, latency in ms (from us), and non-2xx answers', () => {
    expect(parse(REPORT_WITH_NON_2XX)).toEqual({
      requests: 79853,
      seconds: 1,
      latencyMs: { p50: 0.043, p99: 1.83, max: 4.68 },
      errors: 0,
      timeouts: 0,
      non2xx: 19963,
    });
  });

  it('reads socket errors apart from timeouts, and latencies in seconds', () => {
    expect(parse(REPORT_WITH_SOCKET_ERRORS)).toEqual({
      requests: 60123,
      seconds: 3.01,
      latencyMs: { p50: 1.5, p99: 1010, max: 1200 },
      errors: 6,
      timeouts: 4,
      non2xx: 0,
    });
  });

  it('refuses a report without its request count rather than reading zero', () => {
    expect(parse('unable to connect to 127.0.0.1:1 Connection refused\n')).toEqual({ error: expect.stringContaining('no "N requests in T" line') });
  });
});
