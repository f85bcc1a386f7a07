/**
 * Incidents (ERAB §4.1.3 対応, 自家用GL 10-2/10-3): opened from an alert or by hand, with a
 * timeline of alerts, actions, notes and status changes (each with its actor and time), moving
 * forward only: open → contained → resolved → closed. Every change is written to the store and
 * appended to the audit log (`incident.*`), so the report's timeline and the audit trail agree.
 */
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { AuditSink } from '../../core/audit-port.js';
import { explain, inBoth, InvalidInputError, PolicyRefusedError } from '../../core/errors.js';
import { fromDbBool, fromJsonText, toDbBool, toJsonText, toNumber } from '../../store/schema.js';
import type { Store } from '../../store/store.js';
import type { Alert } from '../detect/alerts.js';
import type { IncidentEventRow, IncidentRow, IncidentTables } from './tables.js';

export const INCIDENT_STATUSES = ['open', 'contained', 'resolved', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export type TimelineKind = 'opened' | 'alert' | 'action' | 'note' | 'status';

export interface TimelineEntry {
  id: number;
  at: number;
  actor: string;
  kind: TimelineKind;
  summary: string;
  details: Record<string, unknown>;
}

export interface Incident {
  id: number;
  title: string;
  severity: Severity;
  status: IncidentStatus;
  /** Opened by a drill (訓練): reported as such, never mistaken for a real incident. */
  drill: boolean;
  openedBy: string;
  openedAt: number;
  updatedAt: number;
}

export interface IncidentWithTimeline extends Incident {
  timeline: TimelineEntry[];
}

const MAX_TEXT = 2000;
const ACTOR = /^[A-Za-z0-9._:@-]{1,128}$/;

/** A text of the timeline, named by `field` in the refusal (in both languages). */
function text(field: 'title' | 'note' | 'reason', v: string, max = MAX_TEXT): string {
  const t = v.trim();
  const named = inBoth(`incident.field.${field}`);
  const what = { what: named.en, whatJa: named.ja };
  if (t.length === 0) throw new InvalidInputError(explain('incident.empty', what));
  if (t.length > max) throw new InvalidInputError(explain('incident.tooLong', { ...what, length: t.length, max }));
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(t)) throw new InvalidInputError(explain('incident.controlChars', what));
  return t;
}

function actorOf(v: string): string {
  if (!ACTOR.test(v)) throw new InvalidInputError(explain('incident.badActor', { value: v.slice(0, 40) }));
  return v;
}

function incidentFromRow(r: IncidentRow): Incident {
  return {
    id: toNumber(r.id, 'erab_incident.id'), title: r.title, severity: r.severity as Severity, status: r.status as IncidentStatus,
    drill: fromDbBool(r.drill), openedBy: r.opened_by, openedAt: toNumber(r.opened_at), updatedAt: toNumber(r.updated_at),
  };
}

function entryFromRow(r: IncidentEventRow): TimelineEntry {
  return {
    id: toNumber(r.id, 'erab_incident_event.id'), at: toNumber(r.at), actor: r.actor, kind: r.kind as TimelineKind, summary: r.summary,
    details: fromJsonText(r.details, z.record(z.string(), z.unknown()), 'erab_incident_event.details'),
  };
}

/** The alert as the timeline keeps it: what was seen, where, and its evidence records. */
function alertDetails(a: Alert, source: string | undefined): Record<string, unknown> {
  return {
    alertId: a.id, source, ruleId: a.ruleId, key: a.key, severity: a.severity, count: a.count, firstAt: a.firstAt, lastAt: a.lastAt,
    description: a.description, guideline: a.guideline, evidence: a.evidence,
  };
}

/**
 * @example
 * const book = new IncidentBook(store, audit);
 * const inc = await book.open({ title: 'rogue peer at R4', severity: 'high', by: 'op-sato', alert, alertSource: 'AGG-A' });
 * await book.note(inc.id, 'op-sato', 'source is the lab scanner');
 * await book.setStatus(inc.id, 'contained', 'op-sato');
 */
export class IncidentBook {
  private readonly db: Kysely<IncidentTables>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, private readonly audit: AuditSink, private readonly clock: () => number = Date.now) {
    this.db = store.db as unknown as Kysely<IncidentTables>;
  }

  /** Opens an incident; from an alert, the alert (with its evidence) is the first timeline entry. */
  async open(o: { title?: string; severity?: Severity; by: string; alert?: Alert; alertSource?: string; drill?: boolean }): Promise<IncidentWithTimeline> {
    const by = actorOf(o.by);
    const title = text('title', o.title ?? (o.alert ? `${o.alert.ruleId}: ${o.alert.summary}` : ''), 300);
    const severity = o.severity ?? o.alert?.severity ?? 'medium';
    if (!SEVERITIES.includes(severity)) throw new InvalidInputError(explain('incident.badSeverity', { value: String(severity).slice(0, 40), severities: SEVERITIES.join(', ') }));
    const now = this.clock();
    const id = await this.db.transaction().execute(async (trx) => {
      const row = await trx.insertInto('erab_incident').values({
        title, severity, status: 'open', drill: toDbBool(o.drill ?? false), opened_by: by, opened_at: now, updated_at: now,
      } as never).returning('id').executeTakeFirstOrThrow();
      const incidentId = toNumber(row.id, 'erab_incident.id');
      await trx.insertInto('erab_incident_event').values({ incident_id: incidentId, at: now, actor: by, kind: 'opened', summary: title, details: toJsonText({ severity, drill: o.drill ?? false }) } as never).execute();
      if (o.alert) {
        await trx.insertInto('erab_incident_event').values({
          incident_id: incidentId, at: now, actor: by, kind: 'alert', summary: `alert #${o.alert.id} ${o.alert.ruleId} (${o.alert.key})`,
          details: toJsonText(alertDetails(o.alert, o.alertSource)),
        } as never).execute();
      }
      return incidentId;
    });
    this.audit.append({
      actor: { kind: 'operator', id: by }, action: 'incident.open', target: `incident:${id}`, outcome: 'success',
      details: { title, severity, drill: o.drill ?? false, ...(o.alert ? { alertId: o.alert.id, ruleId: o.alert.ruleId, alertSource: o.alertSource } : {}) },
    });
    return this.show(id);
  }

  /** Adds an alert (another firing seen as part of the same incident) to the timeline. */
  async addAlert(id: number, by: string, alert: Alert, source?: string): Promise<TimelineEntry> {
    return this.append(id, by, 'alert', `alert #${alert.id} ${alert.ruleId} (${alert.key})`, alertDetails(alert, source), 'incident.alert');
  }

  async note(id: number, by: string, note: string): Promise<TimelineEntry> {
    return this.append(id, by, 'note', text('note', note), {}, 'incident.note');
  }

  /** Records a playbook action and its outcome (the action itself audits at the place it acts). */
  async recordAction(id: number, by: string, step: string, outcome: 'success' | 'failure', summary: string, details: Record<string, unknown>): Promise<TimelineEntry> {
    return this.append(id, by, 'action', `${step}: ${summary}`, { step, outcome, ...details }, 'incident.action', outcome);
  }

  /** Moves the incident forward (open → contained → resolved → closed); never back. */
  async setStatus(id: number, to: IncidentStatus, by: string, reason?: string): Promise<IncidentWithTimeline> {
    if (!INCIDENT_STATUSES.includes(to)) throw new InvalidInputError(explain('incident.badStatus', { value: String(to).slice(0, 40), statuses: INCIDENT_STATUSES.join(', ') }));
    const inc = await this.get(id);
    const from = INCIDENT_STATUSES.indexOf(inc.status);
    if (INCIDENT_STATUSES.indexOf(to) <= from) {
      throw new PolicyRefusedError(explain('incident.backwards', { id, from: inc.status, to }));
    }
    await this.append(id, by, 'status', `${inc.status} → ${to}${reason ? `: ${text('reason', reason)}` : ''}`, { from: inc.status, to }, 'incident.status', 'success', to);
    return this.show(id);
  }

  async get(id: number): Promise<Incident> {
    const row = await this.db.selectFrom('erab_incident').selectAll().where('id', '=', id as never).executeTakeFirst();
    if (!row) throw new InvalidInputError(explain('notFound.incident', { id }));
    return incidentFromRow(row);
  }

  async show(id: number): Promise<IncidentWithTimeline> {
    const inc = await this.get(id);
    const rows = await this.db.selectFrom('erab_incident_event').selectAll().where('incident_id', '=', id as never).orderBy('id').execute();
    return { ...inc, timeline: rows.map(entryFromRow) };
  }

  async list(o: { status?: IncidentStatus; limit?: number } = {}): Promise<Incident[]> {
    let q = this.db.selectFrom('erab_incident').selectAll().orderBy('id', 'desc').limit(o.limit ?? 100);
    if (o.status) q = q.where('status', '=', o.status);
    return (await q.execute()).map(incidentFromRow);
  }

  private async append(
    id: number, by: string, kind: TimelineKind, summary: string, details: Record<string, unknown>, action: string,
    outcome: 'success' | 'failure' = 'success', status?: IncidentStatus,
  ): Promise<TimelineEntry> {
    const actor = actorOf(by);
    const inc = await this.get(id);
    if (inc.status === 'closed') throw new PolicyRefusedError(explain('incident.closed', { id }));
    const now = this.clock();
    const entryId = await this.db.transaction().execute(async (trx) => {
      const row = await trx.insertInto('erab_incident_event').values({
        incident_id: id, at: now, actor, kind, summary, details: toJsonText(details),
      } as never).returning('id').executeTakeFirstOrThrow();
      await trx.updateTable('erab_incident').set({ updated_at: now, ...(status ? { status } : {}) } as never).where('id', '=', id as never).execute();
      return toNumber(row.id);
    });
    this.audit.append({
      actor: { kind: 'operator', id: actor }, action, target: `incident:${id}`, outcome,
      details: { entry: entryId, summary: summary.slice(0, 300), ...(status ? { status } : {}) },
    });
    return { id: entryId, at: now, actor, kind, summary, details };
  }
}
