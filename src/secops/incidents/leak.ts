/**
 * A personal-data leak (漏えい等) as an incident with the legal clock of the Act on the Protection
 * of Personal Information (個人情報保護法 Art. 26; Enforcement Rules Art. 7, 8; PPC guideline
 * 通則編 3-5-3): once the business knows of a reportable leak it reports to the Personal
 * Information Protection Commission (個人情報保護委員会)
 *  - a preliminary report (速報) "promptly" — by the PPC's guidance within about 3 to 5 days;
 *  - a final report (確報) within 30 days, 60 days when the leak may come from an act for an
 *    unauthorised purpose (不正の目的をもって行われたおそれがある事態, Rule 7 (iii)).
 * Days are counted in JST, the day the leak became known being day 1 and weekends and holidays
 * included, each deadline the end (24:00 JST) of its last day. The preliminary report is
 * tracked against both ends of "3 to 5 days": the 3-day target and the 5-day limit.
 *
 * A leak is an incident of the incident book (./book.ts) with one more row (`erab_incident_leak`):
 * when it became known, whether the purpose was unauthorised, when each report was made, which
 * reminders were sent. `remind` sends each reminder once, through the notifier, a set time
 * before each deadline still open (and once when it has passed); the times come from the caller's
 * clock, so tests inject one.
 */
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { AuditSink } from '../../core/audit-port.js';
import { explain, InvalidInputError, PolicyRefusedError } from '../../core/errors.js';
import { DAY_MS, formatJst, jstDayStart } from '../../core/jst.js';
import type { Migration } from '../../store/migrations.js';
import { columnType, fromDbBool, fromJsonText, toDbBool, toJsonText, toNumber } from '../../store/schema.js';
import type { Store } from '../../store/store.js';
import { ensureTemplate, type NoticeTemplate } from '../notify/templates.js';
import type { IncidentBook, IncidentWithTimeline } from './book.js';

export const leakMigrations: readonly Migration[] = [{
  name: '0002_incident_leak',
  async up(db) {
    await db.schema.createTable('erab_incident_leak')
      .addColumn('incident_id', columnType.bigint, (c) => c.primaryKey())
      .addColumn('discovered_at', columnType.epochMillis, (c) => c.notNull())
      .addColumn('unauthorised_purpose', columnType.bool, (c) => c.notNull())
      .addColumn('declared_by', 'text', (c) => c.notNull())
      .addColumn('preliminary_reported_at', columnType.epochMillis)
      .addColumn('final_reported_at', columnType.epochMillis)
      .addColumn('reminders', columnType.json, (c) => c.notNull())
      .execute();
  },
}];

interface LeakRow {
  incident_id: unknown; discovered_at: unknown; unauthorised_purpose: unknown; declared_by: string;
  preliminary_reported_at: unknown; final_reported_at: unknown; reminders: string;
}
type LeakTables = { erab_incident_leak: LeakRow };

export const LEAK_REPORTS = ['preliminary', 'final'] as const;
export type LeakReport = (typeof LEAK_REPORTS)[number];

/** One deadline of the legal clock. */
export interface LeakDeadline {
  /** `preliminary-target` (3 days), `preliminary-limit` (5 days), `final` (30 or 60 days). */
  readonly name: 'preliminary-target' | 'preliminary-limit' | 'final';
  readonly report: LeakReport;
  /** The day count, the day the leak became known being day 1. */
  readonly days: number;
  /** The last instant (23:59:59.999 JST of the last day), epoch ms. */
  readonly due: number;
}

/** The reporting deadlines of a leak known at `discoveredAt` (see the file's comment). */
export function leakDeadlines(discoveredAt: number, unauthorisedPurpose: boolean): LeakDeadline[] {
  const end = (days: number): number => jstDayStart(discoveredAt) + days * DAY_MS - 1;
  const finalDays = unauthorisedPurpose ? 60 : 30;
  return [
    { name: 'preliminary-target', report: 'preliminary', days: 3, due: end(3) },
    { name: 'preliminary-limit', report: 'preliminary', days: 5, due: end(5) },
    { name: 'final', report: 'final', days: finalDays, due: end(finalDays) },
  ];
}

/** A leak and where its clock stands at some instant. */
export interface LeakStatus {
  incidentId: number;
  discoveredAt: number;
  unauthorisedPurpose: boolean;
  declaredBy: string;
  reported: { preliminary: number | null; final: number | null };
  deadlines: (LeakDeadline & { state: 'reported' | 'open' | 'overdue'; remainingMs: number })[];
  reminders: string[];
}

/** How long before a deadline a reminder goes, ms; plus one when it has passed. Default 2 days and 1 day. */
export const DEFAULT_REMINDERS_MS: readonly number[] = [2 * DAY_MS, DAY_MS];

/** A reminder to send: which deadline, how long before it (0: it has passed). */
export interface LeakReminder {
  incident: IncidentWithTimeline;
  status: LeakStatus;
  deadline: LeakStatus['deadlines'][number];
  /** ms before the deadline the reminder was due; 0 = overdue. */
  beforeMs: number;
}

const remindersSchema = z.array(z.string().max(100)).max(1000);

/**
 * @example
 * const leaks = new LeakBook(store, book, audit);
 * await leaks.declare(3, { by: 'op-sato', discoveredAt: Date.parse('2026-12-01T10:00:00+09:00'), unauthorisedPurpose: true });
 * (await leaks.status(3, Date.now())).deadlines // preliminary 12-03/12-05, final 2027-01-29 (60 days), JST
 * await leaks.remind(Date.now(), (r) => notifier.notifyAll(leakReminderNotice(r), recipients));
 */
export class LeakBook {
  private readonly db: Kysely<LeakTables>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, private readonly book: IncidentBook, private readonly audit: AuditSink) {
    this.db = store.db as unknown as Kysely<LeakTables>;
  }

  /** Marks incident `id` as a personal-data leak known since `discoveredAt`; its clock starts then. */
  async declare(id: number, o: { by: string; discoveredAt: number; unauthorisedPurpose: boolean; now?: number }): Promise<LeakStatus> {
    const inc = await this.book.get(id);
    if (!Number.isSafeInteger(o.discoveredAt) || o.discoveredAt <= 0) throw new InvalidInputError(explain('incident.leak.badKnownAt'));
    const now = o.now ?? Date.now();
    if (o.discoveredAt > now + 60_000) throw new InvalidInputError(explain('incident.leak.knownInFuture', { at: new Date(o.discoveredAt).toISOString() }));
    if (await this.row(id)) throw new PolicyRefusedError(explain('incident.leak.alreadyDeclared', { id }));
    const clock = leakDeadlines(o.discoveredAt, o.unauthorisedPurpose);
    // The note first: it checks the actor and refuses a closed incident before the leak is recorded.
    await this.book.note(id, o.by, `personal-data leak (個人情報の漏えい等) known since ${formatJst(o.discoveredAt)}${o.unauthorisedPurpose ? ', possibly for an unauthorised purpose' : ''}: `
      + clock.map((d) => `${d.name} report by ${formatJst(d.due)}`).join('; '));
    await this.db.insertInto('erab_incident_leak').values({
      incident_id: inc.id, discovered_at: o.discoveredAt, unauthorised_purpose: toDbBool(o.unauthorisedPurpose), declared_by: o.by,
      preliminary_reported_at: null, final_reported_at: null, reminders: toJsonText([]),
    } as never).execute();
    this.audit.append({
      actor: { kind: 'operator', id: o.by }, action: 'incident.leak.declare', target: `incident:${id}`, outcome: 'success',
      details: { discoveredAt: new Date(o.discoveredAt).toISOString(), unauthorisedPurpose: o.unauthorisedPurpose, deadlines: Object.fromEntries(clock.map((d) => [d.name, new Date(d.due).toISOString()])) },
    });
    return this.status(id, now);
  }

  /** Records that the preliminary or final report was made to the PPC at `at`. */
  async recordReport(id: number, report: LeakReport, o: { by: string; at: number; reference?: string }): Promise<LeakStatus> {
    const row = await this.mustRow(id);
    if (!LEAK_REPORTS.includes(report)) throw new InvalidInputError(explain('cli.incident.leakBadReport', { reports: LEAK_REPORTS.join(', ') }));
    if (report === 'final' && row.preliminary_reported_at === null) throw new PolicyRefusedError(explain('incident.leak.finalBeforePreliminary', { id }));
    const column = report === 'preliminary' ? 'preliminary_reported_at' : 'final_reported_at';
    if (row[column] !== null) throw new PolicyRefusedError(explain('incident.leak.alreadyReported', { id, report, reportJa: report === 'preliminary' ? '速報' : '確報' }));
    const due = leakDeadlines(toNumber(row.discovered_at), fromDbBool(row.unauthorised_purpose)).filter((d) => d.report === report).at(-1)!;
    const late = o.at > due.due;
    await this.book.note(id, o.by, `${report} report (${report === 'preliminary' ? '速報' : '確報'}) made to the PPC at ${formatJst(o.at)}${o.reference ? ` (${o.reference})` : ''}${late ? `, after its deadline ${formatJst(due.due)}` : ''}`);
    await this.db.updateTable('erab_incident_leak').set({ [column]: o.at } as never).where('incident_id', '=', id as never).execute();
    this.audit.append({
      actor: { kind: 'operator', id: o.by }, action: `incident.leak.${report}-report`, target: `incident:${id}`, outcome: 'success',
      details: { at: new Date(o.at).toISOString(), due: new Date(due.due).toISOString(), late, ...(o.reference ? { reference: o.reference } : {}) },
    });
    return this.status(id, o.at);
  }

  /** The leak's clock at `now`; undefined when incident `id` is not a declared leak. */
  async status(id: number, now: number): Promise<LeakStatus> {
    return statusOf(await this.mustRow(id), now);
  }

  /** {@link status}, or undefined for an incident that is not a leak. */
  async find(id: number, now: number): Promise<LeakStatus | undefined> {
    const row = await this.row(id);
    return row ? statusOf(row, now) : undefined;
  }

  /**
   * Sends, through `send`, every reminder that has fallen due at `now` and was not sent yet: for
   * each deadline whose report is not made, `beforeMs` ahead of it and once when it has passed.
   * A reminder is recorded as sent only when `send` succeeds (else it is tried at the next call).
   * Leaks of closed incidents are done. Resolves to the reminders sent.
   */
  async remind(now: number, send: (r: LeakReminder) => Promise<unknown>, beforeMs: readonly number[] = DEFAULT_REMINDERS_MS): Promise<LeakReminder[]> {
    const rows = await this.db.selectFrom('erab_incident_leak').selectAll().where('final_reported_at', 'is', null).execute();
    const sent: LeakReminder[] = [];
    for (const row of rows) {
      const incident = await this.book.show(toNumber(row.incident_id));
      if (incident.status === 'closed') continue;
      const status = statusOf(row, now);
      const done = new Set(status.reminders);
      for (const deadline of status.deadlines) {
        if (deadline.state === 'reported') continue;
        // The latest step due: only one reminder per deadline per call, never a burst of stale ones.
        const step = [...beforeMs, 0].sort((a, b) => a - b).find((b) => now >= deadline.due - b + (b === 0 ? 1 : 0));
        if (step === undefined) continue;
        const key = `${deadline.name}:${step}`;
        if (done.has(key)) continue;
        const reminder: LeakReminder = { incident, status, deadline, beforeMs: step };
        await send(reminder);
        done.add(key);
        await this.db.updateTable('erab_incident_leak').set({ reminders: toJsonText([...done]) } as never).where('incident_id', '=', row.incident_id as never).execute();
        this.audit.append({
          actor: { kind: 'system', id: 'leak-clock' }, action: 'incident.leak.reminder', target: `incident:${incident.id}`, outcome: 'success',
          details: { deadline: deadline.name, due: new Date(deadline.due).toISOString(), state: deadline.state },
        });
        sent.push(reminder);
      }
    }
    return sent;
  }

  private async row(id: number): Promise<LeakRow | undefined> {
    return this.db.selectFrom('erab_incident_leak').selectAll().where('incident_id', '=', id as never).executeTakeFirst();
  }

  private async mustRow(id: number): Promise<LeakRow> {
    const row = await this.row(id);
    if (!row) throw new InvalidInputError(explain('incident.leak.notDeclared', { id }));
    return row;
  }
}

function statusOf(row: LeakRow, now: number): LeakStatus {
  const discoveredAt = toNumber(row.discovered_at);
  const unauthorisedPurpose = fromDbBool(row.unauthorised_purpose);
  const reported = {
    preliminary: row.preliminary_reported_at === null ? null : toNumber(row.preliminary_reported_at),
    final: row.final_reported_at === null ? null : toNumber(row.final_reported_at),
  };
  return {
    incidentId: toNumber(row.incident_id), discoveredAt, unauthorisedPurpose, declaredBy: row.declared_by, reported,
    deadlines: leakDeadlines(discoveredAt, unauthorisedPurpose).map((d) => ({
      ...d, state: reported[d.report] !== null ? 'reported' : now > d.due ? 'overdue' : 'open', remainingMs: d.due - now,
    })),
    reminders: fromJsonText(row.reminders, remindersSchema, 'erab_incident_leak.reminders'),
  };
}

// The reminder notice, in the notify module's one template registry.
export const LEAK_REMINDER_TEMPLATE = 'personal-data-leak-deadline';

const reminderSchema = z.object({
  incidentId: z.number().int().positive(),
  title: z.string().min(1).max(300),
  deadline: z.enum(['preliminary-target', 'preliminary-limit', 'final']),
  due: z.number().int(),
  overdue: z.boolean(),
  discoveredAt: z.number().int(),
  unauthorisedPurpose: z.boolean(),
  drill: z.boolean(),
}).strict();
type ReminderData = z.output<typeof reminderSchema>;

const reminderTemplate: NoticeTemplate<ReminderData> = {
  id: LEAK_REMINDER_TEMPLATE,
  schema: reminderSchema,
  render(d, language) {
    const ja = { 'preliminary-target': '速報 (目安 3日)', 'preliminary-limit': '速報 (期限 5日)', final: `確報 (${d.unauthorisedPurpose ? 60 : 30}日以内)` }[d.deadline];
    const en = { 'preliminary-target': 'preliminary report (3-day target)', 'preliminary-limit': 'preliminary report (5-day limit)', final: `final report (within ${d.unauthorisedPurpose ? 60 : 30} days)` }[d.deadline];
    if (language === 'ja') {
      return {
        subject: `${d.drill ? '【訓練】' : ''}【個人情報漏えい等】#${d.incidentId} 個人情報保護委員会への${ja}${d.overdue ? 'の期限を過ぎています' : 'の期限が近づいています'}`,
        text: [
          `インシデント番号: ${d.incidentId}`, `件名: ${d.title}`, `事態を知った日時: ${formatJst(d.discoveredAt)} (日本時間)`,
          `${ja}の期限: ${formatJst(d.due)} (日本時間)${d.overdue ? ' — 期限超過' : ''}`,
          '報告後は erab incident leak-report で記録してください。',
        ].join('\n'),
      };
    }
    return {
      subject: `${d.drill ? '[DRILL] ' : ''}[Personal-data leak] #${d.incidentId} ${en} to the PPC ${d.overdue ? 'is overdue' : 'is due soon'}`,
      text: [
        `Incident: ${d.incidentId}`, `Title: ${d.title}`, `Known since: ${new Date(d.discoveredAt).toISOString()}`,
        `Due: ${new Date(d.due).toISOString()} (${formatJst(d.due)})${d.overdue ? ' — OVERDUE' : ''}`,
        'Record the report with erab incident leak-report once made.',
      ].join('\n'),
    };
  },
};

/** Registers the reminder template once per process. */
export function ensureLeakReminderTemplate(): void {
  ensureTemplate(reminderTemplate);
}

/** The notice of a reminder, for Notifier.notifyAll. */
export function leakReminderNotice(r: LeakReminder): { template: string; subject: string; data: ReminderData } {
  ensureLeakReminderTemplate();
  return {
    template: LEAK_REMINDER_TEMPLATE,
    subject: `incident-${r.incident.id}-leak-${r.deadline.name}-${r.beforeMs}`,
    data: {
      incidentId: r.incident.id, title: r.incident.title, deadline: r.deadline.name, due: r.deadline.due, overdue: r.beforeMs === 0,
      discoveredAt: r.status.discoveredAt, unauthorisedPurpose: r.status.unauthorisedPurpose, drill: r.incident.drill,
    },
  };
}
