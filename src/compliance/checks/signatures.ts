/**
 * Signed commands per interface. R1: every aggregator registered with the TSO's VTN asked for
 * signed payloads. R4 commands are signed (OpenADR XML signatures): every gateway registered with the aggregator's
 * R4 VTN asked for signed payloads (oadrXmlSignature), and a gateway verifies them against the
 * aggregator certificate it pins. Read from the VTN's registrations in the store: one SQL count,
 * no rows in memory, so 100,000 gateways cost one query.
 */
import { sql } from 'kysely';
import type { Check, Evidence } from '../registry.js';
import { rowsOrNone } from './peers.js';
import { existsSync } from 'node:fs';
import type { CheckContext } from '../registry.js';
import { parseStoreUrl, redactUrl } from '../../store/url.js';

/** Registrations of one VTN, and how many of them did not ask for XML signatures: one SQL count. */
async function unsignedRegistrations(ctx: CheckContext, url: string, vtnId: string): Promise<{ source: string; observed: string; unsigned: number }> {
  const dialect = parseStoreUrl(url).dialect;
  const flag = dialect === 'sqlite'
    ? sql<number>`sum(case when json_extract(data, '$.xmlSignature') = 1 then 0 else 1 end)`
    : sql<number>`sum(case when (data::jsonb->>'xmlSignature') = 'true' then 0 else 1 end)`;
  const row = await rowsOrNone(ctx, url, (db) => db.selectFrom('openadr_vtn_registration')
    .select([sql<number>`count(*)`.as('n'), flag.as('unsigned')]).where('vtn_id', '=', vtnId).executeTakeFirst());
  const n = Number(row?.n ?? 0); const unsigned = Number(row?.unsigned ?? 0);
  return { source: `${redactUrl(url)} openadr_vtn_registration (vtn ${vtnId})`, observed: row ? `${n} registered, ${unsigned} without XML signatures` : 'no store or registrations table yet', unsigned };
}

export const r1SignaturesCheck: Check = {
  id: 'signatures.r1',
  title: 'R1: dispatches to aggregators carry XML signatures',
  reads: 'registrations of the TSO VTN (oadrXmlSignature per aggregator)',
  async run(ctx) {
    const t = ctx.profile.roles.includes('tso') ? ctx.config('tso') : undefined;
    if (!t) return { status: 'not-applicable', evidence: [{ source: 'profile roles', observed: 'no TSO configured', at: ctx.now }] };
    const r = await unsignedRegistrations(ctx, t.store.url, t.id);
    return { status: r.unsigned > 0 ? 'not-satisfied' : 'satisfied', evidence: [{ source: r.source, observed: r.observed, at: ctx.now }] };
  },
};

export const r4SignaturesCheck: Check = {
  id: 'signatures.r4',
  title: 'R4: commands carry XML signatures',
  reads: 'registrations of the aggregator R4 VTN (oadrXmlSignature per gateway); gateway config aggregator.certificateFile',
  async run(ctx) {
    const evidence: Evidence[] = [];
    let ok = true;
    let applicable = false;
    if (ctx.profile.roles.includes('aggregator')) {
      const a = ctx.config('aggregator');
      if (a) {
        applicable = true;
        const r = await unsignedRegistrations(ctx, a.store.url, `${a.id}-vtn`);
        if (r.unsigned > 0) ok = false;
        evidence.push({ source: r.source, observed: r.observed.replace('registered', 'gateways registered'), at: ctx.now });
      }
    }
    if (ctx.profile.roles.includes('ems')) {
      const g = ctx.config('gateway');
      if (g) {
        applicable = true;
        const present = existsSync(g.aggregator.certificateFile);
        if (!present) ok = false;
        evidence.push({ source: `${ctx.configFile('gateway')}#aggregator.certificateFile`, observed: `${g.aggregator.certificateFile} ${present ? 'present' : 'MISSING'}; signature mode required for the aggregator peer (command guard)${g.aggregator.fingerprint ? `, signer pinned ${g.aggregator.fingerprint}` : ''}`, at: ctx.now });
      }
    }
    if (!applicable) return { status: 'not-applicable', evidence: [{ source: 'profile roles', observed: 'no R4 role configured', at: ctx.now }] };
    return { status: ok ? 'satisfied' : 'not-satisfied', evidence };
  },
};
