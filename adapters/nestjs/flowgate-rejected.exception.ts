// The exception the guard throws for a rejected request: status, headers and body of the answer.

import { HttpException } from '@nestjs/common';
import type { Decision } from '../../src/decision.js';
import type { RejectionBody } from '../../src/http/http-answer.js';

/** The body as an exception filter reads it: the parsed JSON for a JSON type, the text otherwise. */
function responseOf(body: RejectionBody): string | Record<string, unknown> {
  if (!/[/+]json\b/.test(body.contentType)) return body.payload;
  const parsed: unknown = JSON.parse(body.payload);
  return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : body.payload;
}

/**
 * Thrown by `FlowgateGuard` when a limit rejects a request. `getStatus()` is the rejection status
 * (429, or 503 while shutting down), `getResponse()` the body (the problem details object by
 * default); `headers` are the `RateLimit`, `RateLimit-Policy` and `Retry-After` fields, already set
 * on the response by the guard; `body` is the serialized payload with its content type, which
 * `FlowgateExceptionFilter` sends. A custom exception filter can render it from these fields.
 */
export class FlowgateRejectedException extends HttpException {
  /**
   * @param decision - the rejecting limit's decision
   * @param status - the HTTP status of the answer
   * @param body - the payload and its content type
   * @param headers - the rate-limit header fields of the answer
   */
  constructor(
    readonly decision: Decision,
    status: number,
    readonly body: RejectionBody,
    readonly headers: Readonly<Record<string, string>>,
  ) {
    super(responseOf(body), status);
  }
}
