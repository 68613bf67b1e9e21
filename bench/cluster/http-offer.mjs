// Sends single HTTP requests to the apps, each id to a chosen app, all at once or on a fixed schedule; never rejects.
import http from 'node:http';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Offer {
  constructor(ports) {
    this.ports = ports;
    this.agents = ports.map(() => new http.Agent({ keepAlive: true, maxSockets: Infinity }));
  }

  /** GET /q?id=`id` on app `target`: resolves with `{ id, target, status (0: no answer), body, error }` within `timeoutMs`. */
  send(target, id, timeoutMs) {
    const sentAt = Date.now();
    return new Promise((resolve) => {
      let settled = false;
      const finish = (status, body, error) => {
        if (settled) return;
        settled = true;
        resolve({ id, target, sentAt, doneAt: Date.now(), status, body, error });
      };
      const req = http.get({ host: '127.0.0.1', port: this.ports[target], path: `/q?id=${id}`, agent: this.agents[target] }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          let body;
          try {
            body = JSON.parse(text);
          } catch {
            body = { raw: text.slice(0, 200) };
          }
          finish(res.statusCode ?? 0, body, undefined);
        });
        res.on('error', (error) => finish(0, undefined, String(error)));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error) => finish(0, undefined, String(error)));
    });
  }

  /** Ids 0..count-1 at once, id i to app i mod apps. */
  burst(count, timeoutMs) {
    return Promise.all(Array.from({ length: count }, (_, id) => this.send(id % this.ports.length, id, timeoutMs)));
  }

  /** Ids 0..count-1, id i to app i mod apps at start + i × spacingMs (absolute schedule: a late timer does not shift the rest). */
  async schedule(count, spacingMs, timeoutMs) {
    const start = performance.now();
    const answers = [];
    for (let id = 0; id < count; id++) {
      const wait = start + id * spacingMs - performance.now();
      if (wait > 1) await sleep(wait);
      answers.push(this.send(id % this.ports.length, id, timeoutMs));
    }
    return Promise.all(answers);
  }

  close() {
    for (const agent of this.agents) agent.destroy();
  }
}
