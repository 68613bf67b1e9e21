// flowgate/metrics on a real Nest app: observing FlowgateLimiters counts its concurrency limits (the module's
// `concurrency` and a `@RateLimit({ concurrency })` limit), acquires and rejections matching the HTTP answers,
// permits in flight up while the handler runs and back to 0 after.

import { Controller, Get, Module, Req, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Registry } from 'prom-client';
import { flowgateMetrics, type FlowgateMetrics } from '../../adapters/metrics/index.js';
import { FlowgateGuard, FlowgateLimiters, FlowgateModule, RateLimit, type FlowgateModuleOptions } from '../../adapters/nestjs/index.js';
import { get, open, type OpenRequest } from '../adapters/http-client.js';
import { Gate } from '../concurrency/helpers/gate.js';
import { waitFor } from '../helpers/wait.js';
import { closeNestApps, PLATFORMS, startNest } from '../nestjs/nest-harness.js';
import { valueOf } from './exposition.js';

const DECISIONS = 'flowgate_concurrency_decisions_total';
const IN_FLIGHT = 'flowgate_concurrency_in_flight';

let gate: Gate;
const opened: OpenRequest[] = [];
const cleanups: Array<() => unknown> = [];
beforeEach(() => {
  gate = new Gate();
});
afterEach(async () => {
  gate.openAll();
  // A request whose handler never reached the gate (a failed test) is cut rather than waited for.
  for (const request of opened) request.cut();
  await Promise.allSettled(opened.splice(0).map((request) => request.answer));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await closeNestApps();
});

/** A slow handler: it waits at the gate under the request's `x-id` until the test opens it. */
async function work(request: { headers: Record<string, string | string[] | undefined> }): Promise<{ id: string }> {
  const id = String(request.headers['x-id']);
  await gate.enter(id);
  return { id };
}

@Controller()
class DefaultController {
  @Get('work')
  work(@Req() request: { headers: Record<string, string | undefined> }): Promise<{ id: string }> {
    return work(request);
  }
}

@Controller()
class ExportsController {
  @RateLimit({ name: 'exports', concurrency: 1 })
  @Get('export')
  export(@Req() request: { headers: Record<string, string | undefined> }): Promise<{ id: string }> {
    return work(request);
  }
}

function rootModule(options: FlowgateModuleOptions, controller: Type<unknown>): Type<unknown> {
  @Module({ imports: [FlowgateModule.forRoot(options)], controllers: [controller], providers: [{ provide: APP_GUARD, useClass: FlowgateGuard }] })
  class RootModule {}
  return RootModule;
}

const CASES: Array<[string, FlowgateModuleOptions, Type<unknown>, string, string]> = [
  // The module's limit is made at startup: the service lists it when it is observed.
  ['FlowgateModule.forRoot({ concurrency: 1 })', { concurrency: 1 }, DefaultController, '/work', 'default'],
  // A @RateLimit limit is made when its route is first guarded, after the observe: the service reports it then.
  ["@RateLimit({ name: 'exports', concurrency: 1 })", {}, ExportsController, '/export', 'ExportsController.export:exports'],
];

describe.each(PLATFORMS)('NestJS on %s: observing FlowgateLimiters counts its concurrency limits', (platform) => {
  test.each(CASES)('%s: acquires and rejections match the 200s and 429s; in flight up while the handler runs, 0 after', async (_what, options, controller, path, limiter) => {
    const metrics: FlowgateMetrics = flowgateMetrics({ registry: new Registry() });
    cleanups.push(() => metrics.close());
    const { app, url } = await startNest(rootModule(options, controller), platform);
    metrics.observe(app.get(FlowgateLimiters));
    const scrape = (): Promise<string> => metrics.registry.metrics();
    const inFlight = async (): Promise<number | undefined> => valueOf(await scrape(), IN_FLIGHT, { limiter });
    const send = (id: string): OpenRequest => {
      const request = open(url(path), { 'x-id': id });
      request.answer.catch(() => undefined);
      opened.push(request);
      return request;
    };

    const statuses: number[] = [];
    const a = send('a');
    await waitFor(() => gate.arrived('a'), 5_000, 'a in its handler');
    expect(await inFlight()).toBe(1);
    // Two more while a holds the only permit: refused, and their handlers never run.
    for (const id of ['b', 'c']) statuses.push((await get(url(path), { 'x-id': id })).status);
    expect(gate.arrived('b') || gate.arrived('c')).toBe(false);
    expect(await inFlight()).toBe(1);
    gate.open('a');
    statuses.push((await a.answer).status);
    await waitFor(async () => (await inFlight()) === 0, 5_000, "a's permit released");

    const d = send('d');
    await waitFor(() => gate.arrived('d'), 5_000, 'd in its handler');
    expect(await inFlight()).toBe(1);
    gate.open('d');
    statuses.push((await d.answer).status);
    await waitFor(async () => (await inFlight()) === 0, 5_000, "d's permit released");

    expect(statuses.sort()).toEqual([200, 200, 429, 429]);
    const text = await scrape();
    const count = (status: number): number => statuses.filter((s) => s === status).length;
    expect(valueOf(text, DECISIONS, { limiter, result: 'acquired', reason: '' })).toBe(count(200));
    expect(valueOf(text, DECISIONS, { limiter, result: 'rejected', reason: 'concurrency' })).toBe(count(429));
    expect(valueOf(text, IN_FLIGHT, { limiter })).toBe(0);
  });
});
