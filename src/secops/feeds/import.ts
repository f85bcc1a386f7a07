/**
 * Importing a feed into the store: parse the whole file first (any refusal leaves the store as
 * it was), then in ONE transaction record the import (source, time, SHA-256 of the bytes) and
 * upsert each advisory by (advisory id, source). Incremental: an advisory whose content did not
 * change is left alone (counted `unchanged`), a changed one replaced, a JVNRSS overview never
 * replaces a detailed record of the same id.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AuditActor, AuditSink } from '../../core/audit-port.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { ErabError, InvalidInputError, describeError } from '../../core/errors.js';
import { toDbBool, toJsonText } from '../../store/schema.js';
import { canonicalJson } from '../../roles/gateway/inventory.js';
import type { SecopsTables } from '../tables.js';
import { parseCsaf } from './csaf.js';
import { parseFeedJson, parseFeedXml, DEFAULT_MAX_FEED_BYTES, type FeedLimits } from './guard.js';
import { parseJvn } from './jvn.js';
import { FEED_FORMATS, type Advisory, type FeedFormat } from './model.js';
import { parseNvd } from './nvd.js';

export interface FeedImportSummary {
  importId: number;
  format: FeedFormat;
  source: string;
  sha256: string;
  records: number;
  added: number;
  updated: number;
  unchanged: number;
}

/**
 * Parses feed bytes of the given format, refusing hostile or malformed input whole.
 * @throws InvalidInputError naming the feed and the rule broken
 */
export function parseFeed(format: FeedFormat, bytes: Uint8Array | string, name: string, limits: FeedLimits = {}): Advisory[] {
  if (!FEED_FORMATS.includes(format)) throw new InvalidInputError(`feed ${name}: unknown format "${String(format)}" (nvd, jvn or csaf)`);
  if (format === 'jvn') return parseJvn(parseFeedXml(bytes, name, limits), name);
  const doc = parseFeedJson(bytes, name, limits);
  return format === 'nvd' ? parseNvd(doc, name) : parseCsaf(doc, name);
}

export const advisoryUid = (a: Pick<Advisory, 'source' | 'id'>): string => `${a.source}:${a.id}`;

export interface ImportFeedOptions {
  format: FeedFormat;
  bytes: Uint8Array | string;
  /** Where it came from: a file path or URL (recorded, shown in errors). */
  source: string;
  actor?: AuditActor;
  audit?: AuditSink;
  clock?: Clock;
  limits?: FeedLimits;
}

/**
 * Imports one feed file/response: all of it or nothing, audited either way.
 * @example await importFeed(store.db, { format: 'nvd', bytes: await readFile(f), source: f })
 */
export async function importFeed(db: Kysely<SecopsTables>, o: ImportFeedOptions): Promise<FeedImportSummary> {
  const actor = o.actor ?? { kind: 'system' as const, id: 'secops.feeds' };
  const sha256 = createHash('sha256').update(o.bytes).digest('hex');
  try {
    const parsed = parseFeed(o.format, o.bytes, o.source, o.limits);
    const byUid = new Map<string, Advisory>();
    for (const a of parsed) byUid.set(advisoryUid(a), a); // a record repeated in one file: the last one counts
    const now = (o.clock ?? systemClock).now();
    const summary = await db.transaction().execute(async (trx) => {
      const imp = await trx.insertInto('secops_feed_import').values({
        format: o.format, source: o.source.slice(0, 2000), sha256, bytes: typeof o.bytes === 'string' ? Buffer.byteLength(o.bytes) : o.bytes.byteLength,
        imported_at: now, records: byUid.size, added: 0, updated: 0, unchanged: 0, actor: actor.id,
      } as never).returning('id').executeTakeFirstOrThrow();
      const importId = Number(imp.id);
      const uids = [...byUid.keys()];
      const existing = new Map<string, { content_sha256: string; level: string }>();
      for (let i = 0; i < uids.length; i += 500) {
        for (const r of await trx.selectFrom('secops_advisory').select(['uid', 'content_sha256', 'level']).where('uid', 'in', uids.slice(i, i + 500)).execute()) existing.set(r.uid, r);
      }
      let added = 0;
      let updated = 0;
      let unchanged = 0;
      for (const [uid, a] of byUid) {
        const content = createHash('sha256').update(canonicalJson(a)).digest('hex');
        const old = existing.get(uid);
        if (old && (old.content_sha256 === content || (old.level === 'detail' && a.level === 'overview'))) {
          unchanged++;
          continue;
        }
        const row = {
          source: a.source, advisory_id: a.id, title: a.title, description: a.description, aliases: toJsonText(a.aliases),
          published: a.published ?? null, modified: a.modified ?? null, cvss_version: a.cvss?.version ?? null, cvss_vector: a.cvss?.vector ?? null,
          cvss_score: a.cvss?.score ?? null, known_exploited: toDbBool(a.knownExploited), fix: a.fix ?? null, refs: toJsonText(a.references),
          affected: toJsonText(a.affected), status: a.status ?? null, level: a.level, content_sha256: content, import_id: importId, updated_at: now,
        };
        if (old) {
          await trx.updateTable('secops_advisory').set(row).where('uid', '=', uid).execute();
          updated++;
        } else {
          await trx.insertInto('secops_advisory').values({ uid, ...row, created_at: now }).execute();
          added++;
        }
      }
      await trx.updateTable('secops_feed_import').set({ added, updated, unchanged }).where('id', '=', importId).execute();
      return { importId, format: o.format, source: o.source, sha256, records: byUid.size, added, updated, unchanged };
    });
    o.audit?.append({ actor, action: 'vuln.feed.import', target: o.source, outcome: 'success', details: { format: o.format, sha256, records: summary.records, added: summary.added, updated: summary.updated, unchanged: summary.unchanged } });
    return summary;
  } catch (err) {
    o.audit?.append({ actor, action: 'vuln.feed.import', target: o.source, outcome: err instanceof ErabError ? 'refused' : 'failure', reason: describeError(err), details: { format: o.format, sha256 } });
    throw err;
  }
}

/**
 * Fetches a feed from its configured URL, stopping at the size limit (the body is never held
 * whole when it is too big). Only http(s).
 * @throws InvalidInputError naming the URL and the rule
 */
export async function fetchFeed(url: string, limits: FeedLimits = {}, init: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
  const u = new URL(url);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new InvalidInputError(`feed URL ${url}: only http and https are fetched`);
  const max = limits.maxBytes ?? DEFAULT_MAX_FEED_BYTES;
  const res = await fetch(u, { signal: init.signal ?? AbortSignal.timeout(120_000), redirect: 'error' });
  if (!res.ok || !res.body) throw new InvalidInputError(`feed URL ${url}: HTTP ${res.status}; nothing imported`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) throw new InvalidInputError(`feed ${url}: more than the limit of ${max} bytes; nothing imported`, { code: 'feed_refused' });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Recorded imports, newest first. */
export async function listImports(db: Kysely<SecopsTables>, limit = 50, beforeId?: number): Promise<SecopsTables['secops_feed_import'][]> {
  let sel = db.selectFrom('secops_feed_import').selectAll();
  if (beforeId !== undefined) sel = sel.where('id', '<', beforeId);
  return sel.orderBy('id', 'desc').limit(limit).execute();
}
