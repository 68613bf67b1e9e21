// Offers requests to the queue apps: one request per id, to a chosen app, at a scheduled time.

import http from 'node:http';
import { sleep, wallNow } from '../../helpers/wait.js';

/** What came back for one request. */
export interface Answer {
  readonly id: number;
  readonly target: number;
  readonly sentAt: number;
  readonly doneAt: number;
  /** HTTP status, or 0 when no answer came (socket error or client timeout). */
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly body: Record<string, unknown> | undefined;
  readonly error: string | undefined;
}

export class Offer {
  private readonly agents: http.Agent[];
  private readonly inFlight = new Set<http.ClientRequest>();

  constructor(private readonly ports: number[]) {
    this.agents = ports.map(() => new http.Agent({ keepAlive: true, maxSockets: Infinity }));
  }

  /** GET /q?id=`id` on app `target`; never rejects; gives up after `timeoutMs` (status 0). */
  send(target: number, id: number, timeoutMs: number): Promise<Answer> {
    const sentAt = wallNow();
    return new Promise<Answer>((resolve) => {
      let settled = false;
      const finish = (status: number, retryAfter: string | undefined, body: Record<string, unknown> | undefined, error: string | undefined): void => {
        if (settled) return;
        settled = true;
        this.inFlight.delete(req);
        resolve({ id, target, sentAt, doneAt: wallNow(), status, retryAfter, body, error });
      };
      const req = http.get({ host: '127.0.0.1', port: this.ports[target], path: `/q?id=${id}`, agent: this.agents[target] }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: Record<string, unknown> | undefined;
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            body = { raw: text };
          }
          const retryAfter = res.headers['retry-after'];
          finish(res.statusCode ?? 0, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, body, undefined);
        });
        res.on('error', (error) => finish(0, undefined, undefined, String(error)));
      });
      this.inFlight.add(req);
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error) => finish(0, undefined, undefined, String(error)));
    });
  }

  /**
   * Sends ids first..first+count-1, id i to app `route(i)` at `start + floor((i - first) / groupSize) * spacingMs`
   * (groupSize 1 by default; absolute schedule, so a late timer does not shift the rest). `skip(i)` leaves an id out.
   */
  async schedule(opts: { first: number; count: number; spacingMs: number; groupSize?: number; route: (id: number) => number; timeoutMs: number; skip?: (id: number) => boolean; onSent?: (id: number) => void }): Promise<Answer[]> {
    const start = performance.now();
    const answers: Array<Promise<Answer>> = [];
    const groupSize = opts.groupSize ?? 1;
    for (let k = 0; k < opts.count; k++) {
      const id = opts.first + k;
      const due = start + Math.floor(k / groupSize) * opts.spacingMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      if (opts.skip?.(id)) continue;
      answers.push(this.send(opts.route(id), id, opts.timeoutMs));
      opts.onSent?.(id);
    }
    return Promise.all(answers);
  }

  /** Aborts every request still waiting (the client goes away). */
  abortAll(): void {
    for (const req of this.inFlight) req.destroy(new Error('aborted by the test'));
  }

  close(): void {
    this.abortAll();
    for (const agent of this.agents) agent.destroy();
  }
}
