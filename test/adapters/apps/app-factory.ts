// The contract of every adapter's test app, so that each scenario is written once for all adapters.

import type { Duration } from '../../../src/duration.js';
import type { Decision } from '../../../src/decision.js';
import type { HttpRateLimitOptions, MaybePromise } from '../../../src/http/http-options.js';
import type { Limiter } from '../../../src/limiter.js';
import type { QueueOptions } from '../../../src/limiter-options.js';
import type { Store } from '../../../src/store.js';
import type { ServerResponse } from 'node:http';

/** A request as the scenarios see it, whatever the framework. */
export interface PortableRequest {
  /** A request header (lower-case name), or undefined. */
  header(name: string): string | undefined;
}

/** The limit of a test app: flowgate's options, with functions of a {@link PortableRequest}. */
export interface PortableLimit {
  rate: number;
  interval?: Duration;
  burst?: number;
  queue?: boolean | QueueOptions;
  /** A store shared with other app instances (one cluster-wide limit). */
  store?: Store;
  key?: (req: PortableRequest) => MaybePromise<string>;
  cost?: number | ((req: PortableRequest) => MaybePromise<number>);
  skip?: (req: PortableRequest) => MaybePromise<boolean>;
  priority?: number | ((req: PortableRequest) => MaybePromise<number>);
  skipSuccessfulRequests?: boolean;
  skipFailedRequests?: boolean;
  requestWasSuccessful?: (req: PortableRequest, res: ServerResponse) => MaybePromise<boolean>;
}

/** A test app listening on 127.0.0.1, limited app-wide, serving `GET /hello`. */
export interface RunningApp {
  /** The URL of `GET /hello`. */
  readonly url: string;
  /** The app's limiter, for its events and `peek`. */
  readonly limiter: Limiter;
  /** Stops the server and closes the app's limiter. */
  close(): Promise<void>;
}

/** Starts a test app of one adapter with one limit. */
export type AppFactory = (limit: PortableLimit) => Promise<RunningApp>;

/** What `GET /hello` answers: the decision the adapter exposed to the route. */
export interface HelloBody {
  readonly allowed: boolean | null;
  readonly waitedMs: number | null;
}

/** The body of `GET /hello` for the decision the adapter left for the route. */
export function helloBody(decision: Decision | undefined): HelloBody {
  return { allowed: decision?.allowed ?? null, waitedMs: decision?.waitedMs ?? null };
}

/** An adapter's options for `limit`, given how to view the adapter's request as portable. */
export function adapterOptions<Req>(limit: PortableLimit, view: (req: Req) => PortableRequest): HttpRateLimitOptions<Req> {
  const { key, cost, skip, priority, requestWasSuccessful, ...limiterOptions } = limit;
  return {
    ...limiterOptions,
    ...(requestWasSuccessful && { requestWasSuccessful: (req: Req, res: ServerResponse) => requestWasSuccessful(view(req), res) }),
    ...(typeof priority === 'function' ? { priority: (req: Req) => priority(view(req)) } : priority !== undefined && { priority }),
    ...(key && { key: (req: Req) => key(view(req)) }),
    ...(typeof cost === 'function' ? { cost: (req: Req) => cost(view(req)) } : cost !== undefined && { cost }),
    ...(skip && { skip: (req: Req) => skip(view(req)) }),
  };
}

/** A header of a Node-style header record (Express and Fastify requests alike). */
export function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
