// The default key of flowgate/nestjs: the client IP of an HTTP request, on Express or Fastify.

import type { ExecutionContext } from '@nestjs/common';
import { ipKey } from '../../src/http/ip-key.js';

/** The parts of an Express or Fastify request that carry the client address. */
interface RequestWithAddress {
  readonly ip?: string;
  /** Express only: the app, whose `trust proxy` setting decides whether `ip` parses forwarding headers. */
  readonly app?: { get?(setting: string): unknown; readonly settings?: Record<string, unknown> };
  readonly socket?: { readonly remoteAddress?: string };
  readonly raw?: { readonly socket?: { readonly remoteAddress?: string } };
}

/**
 * The client IP of the request (`request.ip`, which honours Express's `trust proxy` and Fastify's
 * `trustProxy`), IPv6 grouped by /56. Outside HTTP it is `'unknown'`: give a `key` there.
 */
export function requestIpKey(context: ExecutionContext): string {
  if (context.getType() !== 'http') return ipKey(undefined);
  // The HTTP arguments are (request, response, next): no switchToHttp(), which builds closures per call.
  const request = context.getArgByIndex<RequestWithAddress | undefined>(0);
  // Express without `trust proxy`: `ip` is the socket's address; read it without the proxy-addr walk
  // (each property once: they sit up the request's prototype chain, and remoteAddress is a getter).
  const settings = request?.app?.settings;
  if (settings !== undefined && !settings['trust proxy']) {
    const address = request?.socket?.remoteAddress;
    if (address !== undefined) return ipKey(address);
  }
  return ipKey(request?.ip ?? request?.socket?.remoteAddress ?? request?.raw?.socket?.remoteAddress);
}
