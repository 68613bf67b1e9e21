// Sends single HTTP requests to the apps, each id to a chosen app, all at once or on a fixed schedule; never rejects.
import http from 'node:http';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Offer {
  constructor(ports) {
    this.ports = ports;
    this.agents = ports.map(() => new http.Agent({ keepAlive: true, maxSockets: Infinity }));
  }

  /**
   * Warms every app up: `count` requests each, one after another, on a key of the app's own
   * (`?warm`), so that the measured requests meet warm code and connections, but a fresh key.
   */
  async warmUp(count, timeoutMs) {
    await Promise.all(
      this.ports.map(async (_, target) => {
        for (let i = 0; i < count; i++) await this.send(target, -1, timeoutMs, '&warm=1');
      }),
    );
  }

  /** GET /q?id=`id` on app `target`: resolves with `{ id, target, status (0: no answer), body, error }` within `timeoutMs`. */
  send(target, id, timeoutMs, query = '') {
    const sentAt = Date.now();
    return new Promise((resolve) => {
      let settled = false;
      const finish = (status, body, error) => {
        if (settled) return;
        settled = true;
        resolve({ id, target, sentAt, doneAt: Date.now(), status, body, error });
      };
      const req = http.get({ host: '127.0.0.1', port: this.ports[target], path: `/q?id=${id}${query}`, agent: this.agents[target] }, (res) => {
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

  /**
   * Ids 0..count-1 in groups of `groupSize` (default 1): group g = ids g × groupSize.. goes to app
   * g mod apps, all at once, at start + g × spacingMs (absolute schedule: a late timer does not
   * shift the rest).
   */
  async schedule(count, spacingMs, timeoutMs, groupSize = 1) {
    const start = performance.now();
    const answers = [];
    for (let id = 0; id < count; id++) {
      const group = Math.floor(id / groupSize);
      const wait = start + group * spacingMs - performance.now();
      if (wait > 1) await sleep(wait);
      answers.push(this.send(group % this.ports.length, id, timeoutMs));
    }
    return Promise.all(answers);
  }

  close() {
    for (const agent of this.agents) agent.destroy();
  }
}
