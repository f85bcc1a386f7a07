/**
 * Personal data encrypted at rest (ERAB §3.4.2; 自家用GL 8-3; docs/privacy.md). Judged from the
 * roles' stores and the key the roles are given, never from a value itself (no personal value
 * and no key byte reaches the evidence):
 *
 * - every consumer's personal field in every declared role's store is sealed by the vault
 *   (src/store/vault.ts): for each column classified `personal` (src/store/classification.ts), one
 *   SQL count of values that are neither empty, nor the erasure marker, nor sealed;
 * - a key-encryption key file is declared (profile `privacy.kekFile`) when the aggregator (which
 *   holds the households' data) is declared or sealed data exists, readable by its owner only, and
 *   it is the KEK that wraps every data key in `privacy_data_key` (a data key under another KEK
 *   means an unfinished rotation or the wrong key file).
 *
 * Operator identities (who approved, acknowledged, imported) are classified personal too, but are
 * accountability records kept in clear like the audit log's actors: they are listed, not judged.
 * A column classified later is judged by default.
 */
import { statSync } from 'node:fs';
import { sql } from 'kysely';
import { columnsOfClass } from '../../store/classification.js';
import { isSealed, PersonalDataVault } from '../../store/vault.js';
import { kekId, readKekFile } from '../../security/privacy/keyring.js';
import { ERASED } from '../../roles/aggregator/portfolio/portfolio.js';
import { redactUrl } from '../../store/url.js';
import type { Check, CheckContext, Evidence } from '../registry.js';
import { rowsOrNone } from './peers.js';

/** How the vault marks a sealed value, both formats (guarded below against src/store/vault.ts isSealed). */
const SEALED_PREFIXES = ['enc2:', 'enc1:'] as const;
/** Operator ids kept for accountability, in clear by design (see the file comment). */
export const OPERATOR_IDENTITY_COLUMNS: readonly string[] = [
  'compliance_decision.approver', 'erab_detect_alert.acked_by', 'secops_feed_import.actor', 'secops_finding.accepted_by', 'secops_finding.status_by',
];

/** The consumers' personal columns, `table.column`. */
export function consumerPersonalColumns(): string[] {
  return columnsOfClass('personal').filter((c) => !OPERATOR_IDENTITY_COLUMNS.includes(c));
}

/** Each declared role's store once: who keeps it, its url. */
function roleStores(ctx: CheckContext): { owner: string; url: string }[] {
  const out = new Map<string, string>();
  const a = ctx.config('aggregator');
  if (a) out.set(a.store.url, `aggregator ${a.id}`);
  for (const k of ['tso', 'retailer'] as const) {
    const t = ctx.config(k);
    if (t && !out.has(t.store.url)) out.set(t.store.url, `${t.kind} ${t.id}`);
  }
  const g = ctx.config('gateway');
  if (g && !out.has(g.database)) out.set(g.database, `gateway ${g.gatewayId}`);
  return [...out].map(([url, owner]) => ({ owner, url }));
}

interface ColumnCount { column: string; values: number; clear: number }

export const personalDataEncryptionCheck: Check = {
  id: 'secops.personal-data-encryption',
  title: 'Personal data is sealed at rest under an owner-only key-encryption key',
  reads: "declared roles' stores: personal columns not sealed (one SQL count each), privacy_data_key per KEK; profile privacy.kekFile mode and key id",
  async run(ctx) {
    for (const p of SEALED_PREFIXES) if (!isSealed(`${p}x`)) throw new Error(`the vault no longer marks sealed values with "${p}": update this check`);
    if (isSealed('x')) throw new Error('the vault takes any value for sealed: update this check');
    const stores = roleStores(ctx);
    if (stores.length === 0) return { status: 'not-applicable', evidence: [{ source: 'profile configs', observed: 'no role configuration named: no store to read', at: ctx.now }] };
    const evidence: Evidence[] = [];
    let ok = true;
    let sealedValues = 0;
    const keysByKek = new Map<string, number>();
    for (const { owner, url } of stores) {
      const counts: ColumnCount[] = [];
      for (const column of consumerPersonalColumns()) {
        const [table, col] = column.split('.') as [string, string];
        const row = await rowsOrNone(ctx, url, (db) => db.selectFrom(table)
          .select([
            sql<number>`count(case when ${sql.ref(col)} is not null and ${sql.ref(col)} <> '' and ${sql.ref(col)} <> ${ERASED} then 1 end)`.as('values'),
            sql<number>`count(case when ${sql.ref(col)} is not null and ${sql.ref(col)} <> '' and ${sql.ref(col)} <> ${ERASED} ${sql.join(SEALED_PREFIXES.map((p) => sql`and ${sql.ref(col)} not like ${`${p}%`}`), sql` `)} then 1 end)`.as('clear'),
          ]).executeTakeFirst());
        if (row) counts.push({ column, values: Number(row.values), clear: Number(row.clear) });
      }
      const keys = await rowsOrNone(ctx, url, (db) => PersonalDataVault.keysByKek(db));
      for (const [k, n] of Object.entries(keys ?? {})) keysByKek.set(k, (keysByKek.get(k) ?? 0) + n);
      const clear = counts.filter((c) => c.clear > 0);
      if (clear.length) ok = false;
      sealedValues += counts.reduce((n, c) => n + c.values - c.clear, 0);
      evidence.push({
        source: `${redactUrl(url)} (${owner})`,
        observed: counts.length === 0 ? 'no store or no table with personal columns yet'
          : `${counts.map((c) => `${c.column}: ${c.values - c.clear}/${c.values} sealed`).join(', ')}${clear.length ? `; IN CLEAR: ${clear.map((c) => `${c.column} (${c.clear} values)`).join(', ')}` : ''}`,
        at: ctx.now,
      });
    }

    const needKek = ctx.profile.roles.includes('aggregator') || sealedValues > 0 || keysByKek.size > 0;
    const kekFile = ctx.profile.privacy?.kekFile;
    if (!kekFile) {
      if (needKek) ok = false;
      evidence.push({ source: 'profile privacy.kekFile', observed: needKek ? 'no key-encryption key declared: personal fields would be stored in clear' : 'none declared (no personal data stored by the declared roles)', at: ctx.now });
    } else {
      let id: string | undefined;
      try {
        const mode = statSync(kekFile).mode & 0o777;
        id = kekId(readKekFile(kekFile)); // refuses a file others may read
        evidence.push({ source: kekFile, observed: `key-encryption key ${id}, mode ${mode.toString(8).padStart(4, '0')}`, at: ctx.now });
      } catch (err) {
        ok = false;
        evidence.push({ source: kekFile, observed: (err as Error).message, at: ctx.now });
      }
      if (id !== undefined) {
        const foreign = [...keysByKek].filter(([k]) => k !== id);
        if (foreign.length) ok = false;
        if (sealedValues > 0 && keysByKek.size === 0) ok = false;
        evidence.push({
          source: 'privacy_data_key',
          observed: keysByKek.size === 0 ? `no data key yet${sealedValues > 0 ? `, yet ${sealedValues} values are sealed: they cannot be opened` : ''}`
            : `data keys per KEK: ${[...keysByKek].map(([k, n]) => `${k}: ${n}`).join(', ')}${foreign.length ? `; ${foreign.reduce((n, [, c]) => n + c, 0)} NOT under the declared key (rotation unfinished, or the wrong key file declared)` : ''}`,
          at: ctx.now,
        });
      }
    }
    evidence.push({ source: 'src/store/classification.ts', observed: `operator ids kept in clear for accountability, not judged: ${OPERATOR_IDENTITY_COLUMNS.join(', ')}`, at: ctx.now });
    return { status: ok ? 'satisfied' : 'not-satisfied', evidence };
  },
};
