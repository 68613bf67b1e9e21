// An open-loop HTTP load generator: a fixed request rate spread round-robin over app processes,
// every request timed and classified (status, problem type, Retry-After, socket error, timeout).

import http from 'node:http';

export interface Outcome {
  /** Index of the target app. */
  readonly target: number;
  /** performance.now() when sent, and how long until the whole answer was read. */
  readonly sentAt: number;
  readonly ms: number;
  /** HTTP status, or 0 when the request failed (socket error or timeout). */
  readonly status: number;
  readonly error?: string;
  readonly problemType?: string;
  readonly retryAfter?: string;
}

export interface LoadOptions {
  /** Ports of the apps (127.0.0.1). */
  readonly ports: number[];
  /** Requests per second, all targets together. */
  readonly rate: number;
  /** The bucket key, sent as the x-key header. */
  readonly key: string;
  /** A request not answered within this counts as failed (and is aborted). Default 10 s. */
  readonly timeoutMs?: number;
}

/** Open-loop load: requests are sent on schedule whether or not earlier ones were answered. */
export class Load {
  readonly outcomes: Outcome[] = [];
  /** Targets switched off (e.g. an app that is about to be SIGSTOPped) are skipped in the rotation. */
  readonly enabled: boolean[];
  private readonly inFlight: number[];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  private timer: ReturnType<typeof setInterval> | undefined;
  private sent = 0;
  private slot = 0;
  private startedAt = 0;
  private firstSentAt = Number.NaN;
  private lastSentAt = Number.NaN;

  constructor(private readonly options: LoadOptions) {
    this.enabled = options.ports.map(() => true);
    this.inFlight = options.ports.map(() => 0);
  }

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), 5);
  }

  /** Requests to target i not answered yet. */
  pending(target: number): number {
    return this.inFlight[target] as number;
  }

  /** Stops sending and waits for every request in flight to be answered or time out. */
  async stop(): Promise<LoadSummary> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const deadline = performance.now() + (this.options.timeoutMs ?? 10_000) + 2_000;
    while (this.inFlight.some((n) => n > 0) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.agent.destroy();
    return summarize(this.outcomes, this.sent, this.lastSentAt - this.firstSentAt);
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.options.rate);
    // After a stall (a blocked event loop), do not fire a huge catch-up volley: at most 50 ms worth.
    const backlog = due - this.slot;
    if (backlog > this.options.rate / 20) this.slot = due - Math.ceil(this.options.rate / 20);
    while (this.slot < due) {
      const target = this.slot % this.options.ports.length;
      this.slot++;
      if (this.enabled[target]) this.send(target);
    }
  }

  private send(target: number): void {
    const sentAt = performance.now();
    if (Number.isNaN(this.firstSentAt)) this.firstSentAt = sentAt;
    this.lastSentAt = sentAt;
    this.sent++;
    this.inFlight[target] = this.pending(target) + 1;
    let done = false;
    const finish = (outcome: Omit<Outcome, 'target' | 'sentAt' | 'ms'>): void => {
      if (done) return;
      done = true;
      this.inFlight[target] = this.pending(target) - 1;
      this.outcomes.push({ target, sentAt, ms: performance.now() - sentAt, ...outcome });
    };
    const req = http.get(
      { host: '127.0.0.1', port: this.options.ports[target], path: '/hit', agent: this.agent, headers: { 'x-key': this.options.key } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          let problemType: string | undefined;
          if ((res.headers['content-type'] ?? '').includes('json')) {
            try {
              problemType = (JSON.parse(body) as { type?: string }).type;
            } catch {
              problemType = 'unparsable';
            }
          }
          const retryAfter = res.headers['retry-after'];
          finish({ status: res.statusCode ?? 0, problemType, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined });
        });
        res.on('error', (error) => finish({ status: 0, error: String(error) }));
      },
    );
    req.setTimeout(this.options.timeoutMs ?? 10_000, () => req.destroy(new Error('timeout')));
    req.on('error', (error) => finish({ status: 0, error: error.message }));
  }
}

export interface LoadSummary {
  readonly sent: number;
  readonly answered: number;
  readonly admitted: number;
  readonly limited: number;
  readonly unavailable: number;
  /** Anything else: other statuses, socket errors, timeouts. */
  readonly failed: Outcome[];
  /** From the first request sent to the last, in ms. */
  readonly spanMs: number;
  readonly maxMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly outcomes: Outcome[];
}

export const TEMPORARY_REDUCED_CAPACITY = 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity';

function summarize(outcomes: Outcome[], sent: number, spanMs: number): LoadSummary {
  const ms = outcomes.map((o) => o.ms).sort((a, b) => a - b);
  const at = (q: number): number => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0;
  return {
    sent,
    answered: outcomes.filter((o) => o.status !== 0).length,
    admitted: outcomes.filter((o) => o.status === 200).length,
    limited: outcomes.filter((o) => o.status === 429).length,
    unavailable: outcomes.filter((o) => o.status === 503).length,
    failed: outcomes.filter((o) => ![200, 429, 503].includes(o.status)),
    spanMs,
    maxMs: ms[ms.length - 1] ?? 0,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    outcomes,
  };
}
