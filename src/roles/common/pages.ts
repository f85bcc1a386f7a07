/**
 * Server-side pages of a list sorted by a unique key (fleet lists of 100,000 devices): keyset
 * pagination, so every item comes once however far apart the pages are fetched, and a page costs
 * a binary search plus the items it scans — never a sort or a copy of the whole list.
 *
 * @example
 * const page = pageOf(fleet.sorted(), (s) => s.id, { limit: 100, cursor: undefined, filter: (s) => s.venId === 'GW1' });
 * // page.items: up to 100 specs; page.nextCursor: pass it back as `cursor` for the next page, null at the end
 */
import { z } from 'zod';
import { inBoth } from '../../core/errors.js';
import { BadQueryError } from './operator-routes.js';

/** The query parameters every paginated list takes. */
export const pageQuery = {
  /** Items per page, 1-500 (default 100). */
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** The `nextCursor` of the previous page. */
  cursor: z.string().min(1).max(400).optional(),
};

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// `k` + the last key in base64url: never empty, even after an empty key.
const encode = (key: string): string => `k${Buffer.from(key, 'utf8').toString('base64url')}`;

function decode(cursor: string): string {
  const key = Buffer.from(cursor.slice(1), 'base64url').toString('utf8');
  if (encode(key) !== cursor) throw new BadQueryError('cursor', inBoth('rule.listCursor'));
  return key;
}

/** The first index whose key is greater than `after` (the list is sorted by key, ascending). */
function firstAfter<T>(sorted: readonly T[], key: (t: T) => string, after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(sorted[mid]!) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One page of `sorted` (ascending by `key`, keys unique) after `cursor`, keeping the items that
 * pass `filter`.
 */
export function pageOf<T>(sorted: readonly T[], key: (t: T) => string, o: { limit: number; cursor?: string | undefined; filter?: ((t: T) => boolean) | undefined }): Page<T> {
  const items: T[] = [];
  let i = o.cursor === undefined ? 0 : firstAfter(sorted, key, decode(o.cursor));
  for (; i < sorted.length && items.length < o.limit; i++) {
    const t = sorted[i]!;
    if (!o.filter || o.filter(t)) items.push(t);
  }
  let more = false;
  for (; i < sorted.length; i++) {
    if (!o.filter || o.filter(sorted[i]!)) {
      more = true;
      break;
    }
  }
  return { items, nextCursor: more && items.length > 0 ? encode(key(items[items.length - 1]!)) : null };
}
