/**
 * What `erab aggregator status|command|approve|reject` print for a person (the default): the
 * aggregator's status as tables, a command's outcome as one sentence, in the CLI's language, times
 * in JST (+09:00) and events with their コマ. `--json` prints the server's JSON instead.
 */
import type { AggregatorStatus } from '../roles/aggregator/runtime/aggregator.js';
import type { CommandRecord } from '../roles/aggregator/runtime/approvals.js';
import type { SeriesSample } from '../roles/aggregator/runtime/series.js';
import { komaNumber } from '../core/jst.js';
import { formatTable } from './table.js';
import { jstTime, kw, t } from './i18n.js';

const col = (k: string, right = false) => ({ header: t(`aggregator.col.${k}`), right });

/** The コマ (1..48 of the JST day) an event starts and ends in, e.g. "35–36". */
function komaSpan(start: number, end: number): string {
  if (!Number.isFinite(start) || !Number.isFinite(end)) return '–';
  const a = komaNumber(start);
  const b = komaNumber(Math.max(start, end - 1));
  return a === b ? String(a) : `${a}–${b}`;
}

/** The status of a running aggregator as a heading and tables. */
export function formatStatus(s: AggregatorStatus): string {
  const parts: string[] = [];
  parts.push(`${t('aggregator.heading', { id: s.id, time: jstTime(s.time), online: s.resources.online, total: s.resources.total, pending: s.pendingApprovals })}\n`);
  parts.push(`\n${t('aggregator.gateways')}\n`);
  parts.push(formatTable([col('gateway'), col('resources', true), col('lastReport'), col('reports', true), col('signed')],
    s.gateways.map((g) => [g.venId, String(g.resources), jstTime(g.lastReportAt), String(g.reports), g.signed ? t('common.yes') : t('common.no')]),
    t('aggregator.noGateways')));
  parts.push(`\n${t('aggregator.events')}\n`);
  parts.push(formatTable([col('event'), col('direction'), col('start'), col('end'), col('koma', true), col('target', true), col('instructed', true), col('delivered', true), col('state'), col('resources', true)],
    s.events.map((e) => [e.key, t(`aggregator.direction.${e.direction}`), jstTime(e.start), jstTime(e.end), komaSpan(e.start, e.end), kw(e.targetW), kw(e.instructedW), kw(e.deliveredW), e.state, String(e.resources)]),
    t('aggregator.noEvents')));
  if (s.upstream.length > 0) {
    parts.push(`\n${t('aggregator.upstream')}\n`);
    parts.push(formatTable([col('name'), col('kind'), col('registered')], s.upstream.map((u) => [u.name, u.kind, u.registered ? t('common.yes') : t('common.no')])));
  }
  if (s.refusals.length > 0) {
    parts.push(`\n${t('aggregator.refusals')}\n`);
    parts.push(formatTable([col('time'), col('by'), col('what'), col('reason')], s.refusals.slice(-20).map((r) => [jstTime(r.time), r.by, r.what, r.reason])));
  }
  return parts.join('');
}

/** Target vs instructed vs delivered samples of one event. */
export function formatSeries(samples: readonly SeriesSample[]): string {
  return formatTable(
    [{ header: t('aggregator.series.col.time') }, { header: t('aggregator.series.col.target'), right: true }, { header: t('aggregator.series.col.instructed'), right: true }, { header: t('aggregator.series.col.delivered'), right: true }],
    samples.map((x) => [jstTime(x.t), kw(x.targetW), kw(x.instructedW), kw(x.deliveredW)]),
  );
}

/** One sentence on a command the operator submitted, approved or rejected. */
export function formatCommandOutcome(r: { record: CommandRecord; result?: { allocatedW: number; shortfallW: number } }): string {
  const { record, result } = r;
  // A later start: said on a line of its own, in JST with its コマ.
  const at = record.command.startAt;
  const starts = at !== undefined && Number.isFinite(at) && record.command.action !== 'release' && ['held', 'approved', 'executed', 'short'].includes(record.state)
    ? `${t('aggregator.starts', { start: jstTime(at), koma: komaNumber(at) })}\n` : '';
  if (record.state === 'held') return `${t('aggregator.held', { id: record.id, why: record.needsSecondBecause ?? '' })}\n${starts}`;
  if (result && record.state === 'short') return `${t('aggregator.short', { id: record.id, allocated: kw(result.allocatedW), short: kw(result.shortfallW) })}\n${starts}`;
  if (result) return `${t('aggregator.executed', { id: record.id, allocated: kw(result.allocatedW), short: kw(result.shortfallW) })}\n${starts}`;
  return `${t('aggregator.rejected', { id: record.id, state: record.state })}\n`;
}

/** One device of `erab aggregator devices` (the console's /api/fleet/devices item). */
export interface DeviceItem {
  id: string;
  gateway: string;
  resourceClass: string;
  online: boolean;
  admission: string | null;
  admissionRevision: number | null;
}

/** A page of devices with their admission at the gateway (what `admit --revision` names). */
export function formatDevices(page: { items: readonly DeviceItem[]; nextCursor: string | null }): string {
  const c = (k: string, right = false) => ({ header: t(`aggregator.devices.col.${k}`), right });
  const table = formatTable([c('id'), c('gateway'), c('class'), c('online'), c('admission'), c('revision', true)],
    page.items.map((d) => [d.id, d.gateway, d.resourceClass, d.online ? t('common.yes') : t('common.no'), t(`aggregator.devices.state.${d.admission ?? 'unknown'}`), d.admissionRevision === null ? '–' : String(d.admissionRevision)]),
    t('aggregator.devices.none'));
  return page.nextCursor ? `${table}${t('aggregator.devices.more', { cursor: page.nextCursor })}\n` : table;
}

/** One sentence on an admission decision sent to a gateway. */
export function formatAdmissionSent(r: { eventId: string; deviceId: string; gateway: string; decision: 'admit' | 'reject' | 'quarantine' | 'release'; revision: number }): string {
  return `${t('aggregator.devices.sent', { decision: t(`aggregator.devices.decision.${r.decision}`), device: r.deviceId, revision: r.revision, gateway: r.gateway, event: r.eventId })}\n`;
}
