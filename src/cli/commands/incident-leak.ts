/**
 * `erab incident leak|leak-report|leak-remind`: a personal-data leak and its legal clock
 * (src/secops/incidents/leak.ts; APPI Art. 26: 速報 within about 3–5 days, 確報 within 30 days or
 * 60 for an unauthorised purpose, counted in JST).
 *
 *   erab incident leak 3 --known-at 2026-12-01T10:00:00+09:00 [--unauthorised-purpose] --operator op-sato
 *   erab incident leak-report 3 preliminary|final [--at TIME] [--reference R] --operator op-sato
 *   erab incident leak-remind --notify-db DB [--notify-config F] (--all | --participant P | --recipient-role R)   (from a timer)
 *
 * `erab incident show` and `erab incident report` show the clock of a leak.
 */
import { Option, type Command } from 'commander';
import { loadConfig } from '../../core/config.js';
import { IncidentBook, LeakBook, LEAK_REPORTS, leakReminderNotice, type LeakReport, type LeakStatus } from '../../secops/incidents/index.js';
import { formatJst } from '../../core/jst.js';
import { t } from '../i18n.js';
import { createNotifier, notifyConfigSchema } from '../../secops/notify/config.js';
import { ContactRegistry } from '../../secops/notify/contacts.js';
import { notifyMigrations } from '../../secops/notify/tables.js';
import { RECIPIENT_ROLES, type RecipientRole } from '../../secops/notify/types.js';
import { openStore } from '../../store/store.js';
import { explain } from '../../core/errors.js';
import { UsageError } from '../usage.js';
import { deskOptions, withDesk, type DeskOpts } from './incident-desk.js';

/** An instant given with its offset (`Z` or `+09:00`), so a time is never read in the wrong zone. */
function instant(text: string, what: string): number {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    throw new UsageError(explain('cli.incident.leakTimeForm', { what, value: text.slice(0, 40) }));
  }
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new UsageError(explain('cli.incident.leakTimeInvalid', { what, value: text }));
  return t;
}

/**
 * The leak's clock, one line per deadline, in the CLI's language.
 * @example leakClockLines(s) // ['速報 preliminary (3 days): due 2026-12-04T00:00:00+09:00 — 61 h left', …]
 */
export function leakClockLines(s: LeakStatus): string[] {
  const label = {
    'preliminary-target': t('incident.leak.preliminaryTarget'), 'preliminary-limit': t('incident.leak.preliminaryLimit'),
    final: t('incident.leak.final', { days: s.unauthorisedPurpose ? 60 : 30 }),
  } as const;
  return s.deadlines.map((d) => {
    const when = d.state === 'reported' ? t('incident.leak.reported', { at: formatJst(s.reported[d.report]!) })
      : d.state === 'overdue' ? t('incident.leak.overdue', { hours: Math.ceil(-d.remainingMs / 3_600_000) })
        : t('incident.leak.left', { hours: Math.floor(d.remainingMs / 3_600_000) });
    return t('incident.leak.deadline', { label: label[d.name], due: formatJst(d.due), when });
  });
}

const reportJa = (report: LeakReport): string => (report === 'preliminary' ? '速報' : '確報');

function incidentId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1) throw new UsageError(explain('cli.incident.badId', { value: text.slice(0, 40) }));
  return id;
}

export function registerLeakCommands(incident: Command): void {
  deskOptions(incident.command('leak'))
    .description('Declare an incident a personal-data leak: starts the legal clock of the reports to the PPC (速報 3–5 days, 確報 30/60 days, JST)')
    .argument('<id>')
    .requiredOption('--known-at <time>', 'when the leak became known (事態を知った時), ISO 8601 with offset')
    .option('--unauthorised-purpose', 'the leak may come from an act for an unauthorised purpose (不正の目的): final report within 60 days')
    .requiredOption('--operator <id>', 'who declares it')
    .action(async (idText: string, o: DeskOpts & { knownAt: string; unauthorisedPurpose?: boolean; operator: string }) => {
      const knownAt = instant(o.knownAt, '--known-at');
      const s = await withDesk(o, (store, audit) => new LeakBook(store, new IncidentBook(store, audit), audit).declare(incidentId(idText), { by: o.operator, discoveredAt: knownAt, unauthorisedPurpose: o.unauthorisedPurpose ?? false }));
      process.stdout.write(`${t('incident.leak.declared', { id: s.incidentId })}\n${leakClockLines(s).map((l) => `  ${l}\n`).join('')}`);
    });

  deskOptions(incident.command('leak-report'))
    .description('Record that the preliminary (速報) or final (確報) report was made to the PPC')
    .argument('<id>')
    .argument('<report>', LEAK_REPORTS.join(' or '))
    .option('--at <time>', 'when it was made (default now), ISO 8601 with offset')
    .option('--reference <text>', "the PPC's receipt or case number")
    .requiredOption('--operator <id>', 'who made it')
    .action(async (idText: string, report: string, o: DeskOpts & { at?: string; reference?: string; operator: string }) => {
      if (!LEAK_REPORTS.includes(report as LeakReport)) throw new UsageError(explain('cli.incident.leakBadReport', { reports: LEAK_REPORTS.join(', ') }));
      const at = o.at !== undefined ? instant(o.at, '--at') : Date.now();
      const s = await withDesk(o, (store, audit) => new LeakBook(store, new IncidentBook(store, audit), audit).recordReport(incidentId(idText), report as LeakReport, { by: o.operator, at, ...(o.reference ? { reference: o.reference } : {}) }));
      process.stdout.write(`${t('incident.leak.recorded', { id: s.incidentId, report, reportJa: reportJa(report as LeakReport) })}\n${leakClockLines(s).map((l) => `  ${l}\n`).join('')}`);
    });

  deskOptions(incident.command('leak-remind'))
    .description('Send the reminders of leak deadlines that have fallen due (each once) to the given contacts; run it from a timer')
    .requiredOption('--notify-db <url>', 'the store holding the contacts')
    .option('--notify-config <file>', 'channels (SMTP, webhook)')
    .option('--all', 'every contact').option('--participant <id>', 'contacts of this participant')
    .addOption(new Option('--recipient-role <role>', 'contacts with this role').choices([...RECIPIENT_ROLES]))
    .action(async (o: DeskOpts & { notifyDb: string; notifyConfig?: string; all?: boolean; participant?: string; recipientRole?: RecipientRole }) => {
      if ([o.all, o.participant, o.recipientRole].filter((x) => x !== undefined).length !== 1) throw new UsageError(explain('cli.incident.leakOneFilter'));
      const notifyStore = await openStore({ url: o.notifyDb, migrations: notifyMigrations, ignoreUnknownMigrations: true });
      try {
        const config = o.notifyConfig ? loadConfig(notifyConfigSchema, { file: o.notifyConfig }) : notifyConfigSchema.parse({});
        const recipients = await new ContactRegistry(notifyStore).list({ ...(o.participant ? { participantId: o.participant } : {}), ...(o.recipientRole ? { role: o.recipientRole } : {}) });
        if (recipients.length === 0) throw new UsageError(explain('cli.incident.leakNoContacts'));
        const notifier = createNotifier(notifyStore, config);
        try {
          // Issued is sent: a delivery that failed is retried from the notify store (erab notify retry).
          const sent = await withDesk(o, (store, audit) => new LeakBook(store, new IncidentBook(store, audit), audit).remind(Date.now(), (r) => notifier.notifyAll(leakReminderNotice(r), recipients, { kind: 'system', id: 'leak-clock' })));
          process.stdout.write(sent.length === 0 ? `${t('incident.leak.noReminder')}\n` : `${sent.map((r) => t(r.beforeMs === 0 ? 'incident.leak.remindedOverdue' : 'incident.leak.reminded', { id: r.incident.id, deadline: r.deadline.name, due: new Date(r.deadline.due).toISOString() })).join('\n')}\n`);
        } finally {
          await notifier.close();
        }
      } finally {
        await notifyStore.close();
      }
    });
}
