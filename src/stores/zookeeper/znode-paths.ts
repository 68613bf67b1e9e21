// Maps limiter names and arbitrary keys to safe, collision-free znode paths under the root.

import { createHash } from 'node:crypto';
import { FlowgateConfigError } from '../../errors.js';

/** Validates a root path such as `/flowgate`: absolute, no trailing slash, no empty or dot segments. */
export function validateRoot(root: unknown): string {
  const ok =
    typeof root === 'string' &&
    root.startsWith('/') &&
    root.length > 1 &&
    !root.endsWith('/') &&
    root.split('/').slice(1).every((part) => part !== '' && part !== '.' && part !== '..' && !/[\u0000-\u001f\u007f]/.test(part));
  if (!ok) throw new FlowgateConfigError('root', root, root === '/' ? "cannot be '/' itself: flowgate keeps its nodes under a root of their own, such as '/flowgate'" : "must be an absolute znode path such as '/flowgate'");
  return root as string;
}

/** A znode name for any text: base64url of its SHA-256, so `/`, `..`, NUL, emoji and 10 KB keys are all safe. */
export function nodeName(text: string): string {
  return digest(text).toString('base64url');
}

/** A lone UTF-16 surrogate: a high one not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * SHA-256 of a text, one digest per distinct string. Well-formed text is hashed as its UTF-8 (the
 * names every release has used). UTF-8 turns every lone surrogate (a key cut in the middle of an
 * emoji) into U+FFFD, so `'\ud83d'`, `'\ud83c'` and `'\ufffd'` were one znode: such text is hashed as
 * its UTF-16 code units instead, after a 0xff byte that no UTF-8 holds, apart from all UTF-8 input.
 */
function digest(text: string): Buffer {
  const hash = createHash('sha256');
  if (!LONE_SURROGATE.test(text)) return hash.update(text, 'utf8').digest();
  return hash.update(Buffer.from([0xff])).update(Buffer.from(text, 'utf16le')).digest();
}

/** Paths of one store's znodes. */
export class ZnodePaths {
  constructor(readonly root: string) {}

  /** Parent of the member nodes (one ephemeral node per process). */
  get members(): string {
    return `${this.root}/members`;
  }

  /** Parent of one limiter's bucket shards. */
  limiter(name: string): string {
    return `${this.root}/buckets/${nodeName(name)}`;
  }

  /**
   * The bucket znode of (limiter, key). Buckets are spread over 256 shard parents per limiter, so no
   * parent's child list grows near ZooKeeper's 1 MB reply limit and the set of parents stays bounded.
   */
  bucket(limiterName: string, key: string): string {
    const hash = digest(key);
    const shard = (hash[0] as number).toString(16).padStart(2, '0');
    return `${this.limiter(limiterName)}/${shard}/${hash.toString('base64url')}`;
  }
}
