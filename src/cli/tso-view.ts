/**
 * What `erab tso|retailer status|dispatch|cancel` print for a person (the default; `--json`
 * prints the API's JSON): dispatches per 30-minute block (コマ) with requested vs delivered,
 * times in JST (+09:00), in the CLI's language.
 */
import type { TsoStatus } from '../roles/tso/tso.js';
import type { DispatchView } from '../roles/tso/delivery.js';
import { KOMA_MS, komaNumber } from '../core/jst.js';
import { formatTable } from './table.js';
import { jstTime, kw, t } from './i18n.js';

const col = (k: string, right = false) => ({ header: t(`tso.col.${k}`), right });

/** Each block of each dispatch: one row. */
function periodRows(d: DispatchView): string[][] {
  return d.periods.map((p) => [d.eventId, String(komaNumber(p.start)), jstTime(p.start), jstTime(p.start + KOMA_MS), kw(p.requestedW), kw(p.deliveredW)]);
}

/** The VTN's registered aggregators, dispatches by block, refusals. */
export function formatTsoStatus(s: TsoStatus): string {
  const out: string[] = [`${t('tso.heading', { id: s.id, kind: s.kind, registered: s.registered.length ? s.registered.join(', ') : t('common.none') })}\n`];
  out.push(`\n${t('tso.dispatches')}\n`);
  out.push(formatTable([col('event'), col('product'), col('direction'), col('to'), col('state'), col('requestedWh', true), col('deliveredWh', true)],
    s.dispatches.map((d) => [d.eventId, d.product, t(`aggregator.direction.${d.direction}`), d.venIDs.join(', '), d.state, kw(d.requestedWh), kw(d.deliveredWh)]),
    t('tso.noDispatches')));
  if (s.dispatches.length > 0) {
    out.push(`\n${t('tso.blocks')}\n`);
    out.push(formatTable([col('event'), col('koma', true), col('start'), col('end'), col('requested', true), col('delivered', true)], s.dispatches.flatMap(periodRows)));
  }
  if (s.refusals.length > 0) {
    out.push(`\n${t('aggregator.refusals')}\n`);
    out.push(formatTable([col('time'), col('who'), col('action'), col('reason')], s.refusals.slice(-20).map((r) => [jstTime(r.time), r.who, r.action, r.reason])));
  }
  return out.join('');
}

/** One issued dispatch: a sentence and its blocks. */
export function formatDispatch(d: DispatchView): string {
  return `${t('tso.issued', { id: d.eventId, product: d.product, direction: t(`aggregator.direction.${d.direction}`), to: d.venIDs.join(', ') })}\n`
    + formatTable([col('koma', true), col('start'), col('end'), col('requested', true)], d.periods.map((p) => [String(komaNumber(p.start)), jstTime(p.start), jstTime(p.start + KOMA_MS), kw(p.requestedW)]));
}
