/**
 * Operational state: the device inventory is complete (自家用 8-2: 管理番号, 設置箇所, ソフトウェアの
 * バージョン), large commands need a second operator (自家用 7-1(2)), and the profile names the
 * configuration of every declared role (scope, 自家用 1-2/1-3).
 */
import { sql } from 'kysely';
import type { Check } from '../registry.js';
import { aggregatorConfigOr, isResult } from './aggregator-config.js';
import { rowsOrNone } from './peers.js';
import { redactUrl } from '../../store/url.js';

export const inventoryCompleteCheck: Check = {
  id: 'inventory.complete',
  title: 'Every present device has maker, product, serial, firmware version and location',
  reads: 'aggregator portfolio_resource (present devices), one SQL count',
  async run(ctx) {
    const a = aggregatorConfigOr(ctx, 'the device inventory is kept by the aggregator');
    if (isResult(a)) return a;
    const incomplete = sql<number>`sum(case when maker_code is null or product_code is null or serial_number is null or firmware_version is null or installation_location is null then 1 else 0 end)`;
    const row = await rowsOrNone(ctx, a.store.url, (db) => db.selectFrom('portfolio_resource').select([sql<number>`count(*)`.as('n'), incomplete.as('bad')]).where('present', '=', 1).executeTakeFirst());
    if (!row) return { status: 'not-satisfied', evidence: [{ source: `${redactUrl(a.store.url)} portfolio_resource`, observed: 'no portfolio in the store', at: ctx.now }] };
    const n = Number(row.n); const bad = Number(row.bad ?? 0);
    return { status: bad === 0 ? 'satisfied' : 'not-satisfied', evidence: [{ source: `${redactUrl(a.store.url)} portfolio_resource`, observed: `${n} present devices, ${bad} missing maker/product/serial/firmware/location`, at: ctx.now }] };
  },
};

export const twoPersonRuleCheck: Check = {
  id: 'approvals.two-person',
  title: 'Large operator commands need a second operator',
  reads: 'aggregator config approvals',
  async run(ctx) {
    const a = aggregatorConfigOr(ctx, 'operator commands are issued by the aggregator');
    if (isResult(a)) return a;
    const p = a.approvals;
    const ok = p.maxSingleOperatorFleetPercent < 100;
    return { status: ok ? 'satisfied' : 'not-satisfied', evidence: [{ source: `${ctx.configFile('aggregator')}#approvals`, observed: `one operator alone up to ${p.maxSingleOperatorW} W and ${p.maxSingleOperatorFleetPercent} % of the fleet${ok ? '' : ' (the whole fleet: no second person ever needed)'}`, at: ctx.now }] };
  },
};

const ROLE_CONFIG = { aggregator: 'aggregator', tso: 'tso', retailer: 'retailer', ems: 'gateway' } as const;
export const scopeDeclaredCheck: Check = {
  id: 'profile.scope',
  title: 'The systems in scope are declared (roles, 区分, their configurations)',
  reads: 'the compliance profile: roles, kubun, configs',
  async run(ctx) {
    const missing = ctx.profile.roles.filter((r) => !ctx.profile.configs[ROLE_CONFIG[r]]);
    const observed = `roles ${ctx.profile.roles.join(', ')}; 区分 ${ctx.profile.kubun ?? '(none)'}; ${missing.length ? `NO configuration named for ${missing.join(', ')}` : 'every role has its configuration named'}`;
    return { status: missing.length ? 'not-satisfied' : 'satisfied', evidence: [{ source: 'compliance profile', observed, at: ctx.now }] };
  },
};
