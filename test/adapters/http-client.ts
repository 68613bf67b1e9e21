// A minimal HTTP client for the adapter tests: one connection per request (no keep-alive), and requests that can be cut.

import http from 'node:http';

/** A response, read whole. */
export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** The body parsed as JSON. */
  json<T = Record<string, unknown>>(): T;
}

/** A request in flight that the test can cut, as a client that goes away. */
export interface OpenRequest {
  /** Settles with the answer, or rejects when the request was cut. */
  readonly answer: Promise<Answer>;
  /** Destroys the socket. */
  cut(): void;
}

/** Sends `GET url` on a connection of its own; `answer` settles when the response has been read. */
export function open(url: string, headers: Record<string, string> = {}): OpenRequest {
  const request = http.get(url, { headers, agent: false });
  const answer = new Promise<Answer>((resolve, reject) => {
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, json: <T>() => JSON.parse(body) as T });
      });
    });
  });
  return { answer, cut: () => request.destroy() };
}

/** Sends `GET url` and reads the whole answer. */
export function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return open(url, headers).answer;
}
