/**
 * Query parameters of the secops operator routes: only the parameters a route names are
 * accepted (a misspelt filter is a 400, not a silently unfiltered list), each checked against its
 * rule, and pages go by an opaque cursor (keyset: the key of the last item, so every item is
 * listed once however the pages are spaced).
 */
import { inBoth } from '../../core/errors.js';
import { BadQueryError } from '../../roles/common/operator-routes.js';

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 500;

/** One page of a listing: `nextCursor` null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Refuses parameters the route does not know, and parameters given twice. */
export function checkParams(q: URLSearchParams, allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const k of q.keys()) {
    if (!allowed.includes(k)) throw new BadQueryError(k, inBoth('rule.unknownParameter', { names: allowed.join(', ') || 'none' }));
    if (seen.has(k)) throw new BadQueryError(k, inBoth('rule.givenMoreThanOnce'));
    seen.add(k);
  }
}

export function pageLimit(q: URLSearchParams): number {
  const v = q.get('limit');
  if (v === null) return DEFAULT_PAGE;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1 || Number(v) > MAX_PAGE) throw new BadQueryError('limit', inBoth('rule.integerRange', { min: 1, max: MAX_PAGE }));
  return Number(v);
}

/** A short text filter (`site`, `advisory`): 1-128 printable characters. */
export function textParam(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (v.length < 1 || v.length > 128 || /[\u0000-\u001f\u007f]/.test(v)) throw new BadQueryError(name, inBoth('rule.printable'));
  return v;
}

export function oneOf<T extends string>(q: URLSearchParams, name: string, values: readonly T[]): T | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!(values as readonly string[]).includes(v)) throw new BadQueryError(name, inBoth('rule.oneOf', { values: values.join(', ') }));
  return v as T;
}

/** A comma-separated list of values (`status=open,notified`). */
export function listOf<T extends string>(q: URLSearchParams, name: string, values: readonly T[]): T[] | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  const items = v.split(',');
  for (const i of items) if (!(values as readonly string[]).includes(i)) throw new BadQueryError(name, inBoth('rule.listOf', { values: values.join(', ') }));
  return items as T[];
}

/** Cursors carry the last key of a page, base64url so a client treats them as opaque. */
export function encodeCursor(key: string | number): string {
  return Buffer.from(JSON.stringify({ k: key })).toString('base64url');
}

export function decodeCursor(q: URLSearchParams, kind: 'string'): string | undefined;
export function decodeCursor(q: URLSearchParams, kind: 'number'): number | undefined;
export function decodeCursor(q: URLSearchParams, kind: 'string' | 'number'): string | number | undefined {
  const v = q.get('cursor');
  if (v === null) return undefined;
  const bad = () => new BadQueryError('cursor', inBoth('rule.routeCursor'));
  if (v.length > 400 || !/^[A-Za-z0-9_-]+$/.test(v)) throw bad();
  let k: unknown;
  try {
    k = (JSON.parse(Buffer.from(v, 'base64url').toString('utf8')) as { k?: unknown }).k;
  } catch {
    throw bad();
  }
  if (kind === 'number' ? !Number.isSafeInteger(k) : typeof k !== 'string') throw bad();
  return k as string | number;
}

/**
 * A page from a query that fetched one item more than asked (`rows.length > limit` means there is
 * a next page, and its cursor is the key of the last item kept).
 */
export function pageOf<R, T>(rows: R[], limit: number, key: (r: R) => string | number, view: (r: R) => T): Page<T> {
  const kept = rows.slice(0, limit);
  const more = rows.length > limit && kept.length > 0;
  return { items: kept.map(view), nextCursor: more ? encodeCursor(key(kept[kept.length - 1]!)) : null };
}
