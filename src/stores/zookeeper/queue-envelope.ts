// The stored form of a DistributedQueue item (its envelope: the item's JSON, deliveries, priority, error), within ZooKeeper's limits.

import { inspect } from 'node:util';
import { FlowgateArgumentError } from '../../errors.js';

/**
 * The largest stored envelope (the item's JSON with its attempts, priority and error). ZooKeeper
 * drops the connection of a request over jute.maxbuffer (1 MiB - 1 by default), and the request
 * also carries the multi's paths, ACLs and markers: an envelope over this is never sent.
 */
export const MAX_STORED_BYTES = 1_040_000;
/** A dead letter keeps the first this many bytes (UTF-8) of its handler's error, marked as cut. */
export const MAX_ERROR_BYTES = 4_096;

/** An item as stored: `{"v":1,"item":<item>,"attempts":n[,"priority":p][,"first":"<id>"][,"error":"..."]}`. */
export interface Envelope<T> {
  readonly v: 1;
  readonly item: T;
  readonly attempts: number;
  readonly error?: string;
  /** Its priority, when not 0: kept when a failed delivery puts it back. */
  readonly priority?: number;
  /** The id of its first copy (the node enqueue() made), once a failed delivery has put it back as a new node. */
  readonly first?: string;
}

/** Reads a stored envelope. */
export function decodeEnvelope<T>(data: Buffer | undefined): Envelope<T> {
  return JSON.parse((data ?? Buffer.from('null')).toString('utf8')) as Envelope<T>;
}

/** The stored envelope of an item's JSON: `{"v":1,"item":<item>,"attempts":n[,"priority":p][,"error":"..."]}`. */
export function envelopeJson(item: string, meta: { attempts: number; priority?: number; first?: string; error?: string }): string {
  return `{"v":1,"item":${item},${JSON.stringify(meta).slice(1)}`;
}

/** The envelope fields besides the item and the error: its deliveries so far, its priority when not 0, the id of its first copy once put back. */
export function metaOf(envelope: { readonly attempts: number; readonly priority?: number; readonly first?: string }): { attempts: number; priority?: number; first?: string } {
  return {
    attempts: envelope.attempts,
    ...(envelope.priority !== undefined && envelope.priority !== 0 && { priority: envelope.priority }),
    ...(typeof envelope.first === 'string' && { first: envelope.first }),
  };
}

/** The bytes to store; an envelope over ZooKeeper's limit is refused here rather than by the server (which drops the connection). */
export function stored(json: string): Buffer {
  const data = Buffer.from(json);
  if (data.length > MAX_STORED_BYTES) throw new FlowgateArgumentError('item', `${data.length} bytes stored`, `must make at most ${MAX_STORED_BYTES} bytes with its envelope (ZooKeeper's request limit)`);
  return data;
}

/**
 * A dead letter's envelope: the error text cut to MAX_ERROR_BYTES, and further if the whole would
 * not fit MAX_STORED_BYTES (an item near its limit, an error of many escaped characters).
 */
export function deadLetter(item: string, meta: { attempts: number; priority?: number; first?: string }, text: string): Buffer {
  let budget = MAX_ERROR_BYTES;
  for (;;) {
    const json = envelopeJson(item, { ...meta, error: cutText(text, budget) });
    const data = Buffer.from(json);
    if (data.length <= MAX_STORED_BYTES || budget === 0) return data.length <= MAX_STORED_BYTES ? data : stored(json);
    budget = Math.max(0, budget - (data.length - MAX_STORED_BYTES));
  }
}

/** `text` within `maxBytes` bytes of UTF-8 (whole characters), followed by a mark of the cut when it was longer. */
function cutText(text: string, maxBytes: number): string {
  const total = Buffer.byteLength(text);
  if (total <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return `${text.slice(0, end)}… [cut: ${total} bytes in all]`;
}

/** What a handler threw, as text: an Error's message, a string as it is, anything else as util.inspect shows it. */
export function errorText(failure: unknown): string {
  try {
    if (failure instanceof Error) return String(failure.message);
    if (typeof failure === 'string') return failure;
    return inspect(failure, { depth: 4, breakLength: Infinity, maxArrayLength: 20, maxStringLength: MAX_ERROR_BYTES });
  } catch {
    return Object.prototype.toString.call(failure);
  }
}
