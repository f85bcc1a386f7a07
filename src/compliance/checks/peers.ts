/**
 * Who may connect. R1 (勧告): the TSO accepts specified aggregators only — every registration in
 * its VTN store belongs to a contracted aggregator. R4: the aggregator's downstream allow-list is
 * deny-by-default and admits only gateways and aggregators. R5 / 自家用 6-2(4): the gateway admits
 * devices by identity, not by class alone.
 */
import { StoreAbsentError, type Check, type CheckContext, type Evidence } from '../registry.js';
import { redactUrl } from '../../store/url.js';

/** Rows of a query, or undefined when the role has not created the table yet. */
async function rowsOrNone<T>(ctx: CheckContext, url: string, run: (db: import('kysely').Kysely<any>) => Promise<T>): Promise<T | undefined> { // eslint-disable-line @typescript-eslint/no-explicit-any
  let store;
  try {
    store = await ctx.store(url);
  } catch (err) {
    if (err instanceof StoreAbsentError) return undefined;
    throw err;
  }
  try {
    return await run(store.db as import('kysely').Kysely<any>); // eslint-disable-line @typescript-eslint/no-explicit-any
  } catch (err) {
    if (/no such table|does not exist/i.test((err as Error).message)) return undefined;
    throw err;
  }
}
export { rowsOrNone };

export const tsoSpecifiedPeersCheck: Check = {
  id: 'peers.r1-specified',
  title: 'R1: only contracted aggregators are registered with the TSO system',
  reads: 'tso config contractedAggregators; registrations in the TSO VTN store (openadr_vtn_registration)',
  async run(ctx) {
    if (!ctx.profile.roles.includes('tso')) return { status: 'not-applicable', evidence: [{ source: 'profile roles', observed: 'not a TSO', at: ctx.now }] };
    const t = ctx.config('tso');
    if (!t) return { status: 'not-satisfied', evidence: [{ source: 'profile configs.tso', observed: 'no TSO configuration named', at: ctx.now }] };
    const contracted = new Set(t.contractedAggregators.map((a) => a.id));
    const evidence: Evidence[] = [{ source: `${ctx.configFile('tso')}#contractedAggregators`, observed: `${contracted.size} contracted: ${[...contracted].join(', ') || '(none: nobody may connect)'}; listener allow-list built from it with role aggregator`, at: ctx.now }];
    const regs = await rowsOrNone(ctx, t.store.url, (db) => db.selectFrom('openadr_vtn_registration').select('ven_id').where('vtn_id', '=', t.id).execute());
    if (!regs) { evidence.push({ source: `${redactUrl(t.store.url)} openadr_vtn_registration`, observed: 'no store or registrations table yet (the TSO has not run)', at: ctx.now }); return { status: 'satisfied', evidence }; }
    const strangers = regs.map((r) => String(r.ven_id)).filter((v) => !contracted.has(v));
    evidence.push({ source: `${redactUrl(t.store.url)} openadr_vtn_registration`, observed: `${regs.length} registered; ${strangers.length ? `NOT contracted: ${strangers.join(', ')}` : 'all contracted'}`, at: ctx.now });
    return { status: strangers.length ? 'not-satisfied' : 'satisfied', evidence };
  },
};

export const r4AllowListCheck: Check = {
  id: 'peers.r4-allow-list',
  title: 'R4: the downstream listener admits listed gateways and aggregators only',
  reads: 'aggregator config downstream.allowList',
  async run(ctx) {
    if (!ctx.profile.roles.includes('aggregator')) return { status: 'not-applicable', evidence: [{ source: 'profile roles', observed: 'not an aggregator', at: ctx.now }] };
    const a = ctx.config('aggregator');
    if (!a) return { status: 'not-satisfied', evidence: [{ source: 'profile configs.aggregator', observed: 'no aggregator configuration named', at: ctx.now }] };
    const l = a.downstream.allowList;
    const problems: string[] = [];
    if (l.anyCertifiedPeer) problems.push('anyCertifiedPeer is on: every certified peer is admitted');
    const badRoles = (l.roles ?? []).filter((r) => r !== 'gateway' && r !== 'aggregator');
    if (badRoles.length) problems.push(`roles admitted beyond gateway/aggregator: ${badRoles.join(', ')}`);
    const pinned = (l.participants?.length ?? 0) + (l.fingerprints?.length ?? 0);
    const observed = `anyCertifiedPeer=${l.anyCertifiedPeer === true}, roles=[${(l.roles ?? []).join(', ')}], ${l.participants?.length ?? 0} participants, ${l.fingerprints?.length ?? 0} fingerprints${pinned === 0 && !l.roles ? ' (admits nobody)' : ''}${problems.length ? `; ${problems.join('; ')}` : ''}`;
    return { status: problems.length ? 'not-satisfied' : 'satisfied', evidence: [{ source: `${ctx.configFile('aggregator')}#downstream.allowList`, observed, at: ctx.now }] };
  },
};

export const deviceAdmissionCheck: Check = {
  id: 'peers.r5-admission',
  title: 'R5: the gateway admits devices allowed in advance, by identity',
  reads: 'gateway config admission.allowList',
  async run(ctx) {
    if (!ctx.profile.roles.includes('ems')) return { status: 'not-applicable', evidence: [{ source: 'profile roles', observed: 'no gateway operated', at: ctx.now }] };
    const g = ctx.config('gateway');
    if (!g) return { status: 'not-satisfied', evidence: [{ source: 'profile configs.gateway', observed: 'no gateway configuration named', at: ctx.now }] };
    const entries = g.admission.allowList;
    const wide = entries.filter((e) => !e.identificationNumber && !(e.makerCode && e.serialNumber));
    const observed = `${entries.length} admission entries; ${wide.length ? `${wide.length} admit by class/maker alone (no identification number or maker+serial): ${JSON.stringify(wide)}` : 'each names one device'}; devices not listed are held pending`;
    return { status: wide.length ? 'not-satisfied' : 'satisfied', evidence: [{ source: `${ctx.configFile('gateway')}#admission.allowList`, observed, at: ctx.now }] };
  },
};
