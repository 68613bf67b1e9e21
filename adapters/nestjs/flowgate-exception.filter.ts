// Sends a FlowgateRejectedException as the HTTP answer: its status, headers and typed body, on any platform.

import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { FlowgateRejectedException } from './flowgate-rejected.exception.js';

/**
 * Answers a {@link FlowgateRejectedException} with its status, its rate-limit headers and its body
 * under its own content type (`application/problem+json` by default). It writes through the
 * platform's HTTP adapter with a serialized body, because Nest's default filter sends exception
 * bodies as `application/json` (on Express it even replaces another JSON type). `FlowgateModule`
 * registers it globally; controller- and method-scoped filters still take precedence. Only HTTP:
 * other transports get the exception back, to be mapped by the guard's `onRejected`.
 */
@Catch(FlowgateRejectedException)
export class FlowgateExceptionFilter implements ExceptionFilter<FlowgateRejectedException> {
  /** @param adapterHost - gives the platform's HTTP adapter (Express or Fastify) */
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** Sends the answer, unless a response was already sent. */
  catch(exception: FlowgateRejectedException, host: ArgumentsHost): void {
    const adapter = this.adapterHost.httpAdapter;
    if (host.getType() !== 'http' || adapter === undefined) throw exception;
    const response: unknown = host.switchToHttp().getResponse();
    if (adapter.isHeadersSent(response)) return;
    for (const [name, value] of Object.entries(exception.headers)) adapter.setHeader(response, name, value);
    adapter.setHeader(response, 'Content-Type', exception.body.contentType);
    adapter.reply(response, exception.body.payload, exception.getStatus());
  }
}
