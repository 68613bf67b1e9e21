// The default key of flowgate/nestjs: the client IP of an HTTP request, on Express or Fastify.

import type { ExecutionContext } from '@nestjs/common';
import { ipKey } from '../../src/http/ip-key.js';

/** The parts of an Express or Fastify request that carry the client address. */
interface RequestWithAddress {
  readonly ip?: string;
  readonly socket?: { readonly remoteAddress?: string };
  readonly raw?: { readonly socket?: { readonly remoteAddress?: string } };
}

/**
 * The client IP of the request (`request.ip`, which honours Express's `trust proxy` and Fastify's
 * `trustProxy`), IPv6 grouped by /56. Outside HTTP it is `'unknown'`: give a `key` there.
 */
export function requestIpKey(context: ExecutionContext): string {
  if (context.getType() !== 'http') return ipKey(undefined);
  const request = context.switchToHttp().getRequest<RequestWithAddress | undefined>();
  return ipKey(request?.ip ?? request?.socket?.remoteAddress ?? request?.raw?.socket?.remoteAddress);
}
