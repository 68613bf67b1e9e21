// Sends a FlowgateRejectedException as the HTTP answer (its status, headers and typed body, on any platform), or as an RPC error.

import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { throwError, type Observable } from 'rxjs';
import { FlowgateRejectedException } from './flowgate-rejected.exception.js';

/**
 * What an RPC client receives for a rejected call: Nest's RPC error shape (`status: 'error'`,
 * `message`), with the HTTP status the rejection would have had, the seconds to wait before trying
 * again, and the rejection's body (the problem details object by default).
 */
export interface FlowgateRpcError {
  readonly status: 'error';
  readonly message: string;
  readonly statusCode: number;
  readonly retryAfter?: number;
  readonly problem: unknown;
}

/**
 * Answers a {@link FlowgateRejectedException} with its status, its rate-limit headers and its body
 * under its own content type (`application/problem+json` by default). It writes through the
 * platform's HTTP adapter with a serialized body, because Nest's default filter sends exception
 * bodies as `application/json` (on Express it even replaces another JSON type). `FlowgateModule`
 * registers it globally; controller- and method-scoped filters still take precedence. An RPC call
 * (a microservice handler limited by a guard subclass) gets a {@link FlowgateRpcError} as its
 * error reply: a filter that throws there leaves the client without any reply. Other transports
 * (WebSocket) get the exception back, to be mapped by the guard's `onRejected`.
 */
@Catch(FlowgateRejectedException)
export class FlowgateExceptionFilter implements ExceptionFilter<FlowgateRejectedException> {
  /** @param adapterHost - gives the platform's HTTP adapter (Express or Fastify) */
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** Sends the answer, unless a response was already sent; for an RPC call, returns its error reply. */
  catch(exception: FlowgateRejectedException, host: ArgumentsHost): void | Observable<never> {
    if (host.getType() === 'rpc') return throwError(() => rpcError(exception));
    const adapter = this.adapterHost.httpAdapter;
    if (host.getType() !== 'http' || adapter === undefined) throw exception;
    const response: unknown = host.switchToHttp().getResponse();
    if (adapter.isHeadersSent(response)) return;
    for (const [name, value] of Object.entries(exception.headers)) adapter.setHeader(response, name, value);
    adapter.setHeader(response, 'Content-Type', exception.body.contentType);
    adapter.reply(response, exception.body.payload, exception.getStatus());
  }
}

/** The error reply of a rejected RPC call. */
function rpcError(exception: FlowgateRejectedException): FlowgateRpcError {
  const retryAfter = Number(exception.headers['Retry-After']);
  return {
    status: 'error',
    message: exception.message,
    statusCode: exception.getStatus(),
    ...(Number.isFinite(retryAfter) && { retryAfter }),
    problem: exception.getResponse(),
  };
}
