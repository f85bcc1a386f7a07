/**
 * `erab incident open|list|show|note|add-alert|status|close|act|report`: the incident desk (issue 14 item 4).
 *
 *   erab incident open --operator op-sato (--alert 7 --alerts-db aggregator.db [--source aggregator:AGG-A] | --title T [--severity high])
 *   erab incident note 3 "source is the lab scanner" --operator op-sato
 *   erab incident add-alert 3 --alert 9 --alerts-db aggregator.db [--source aggregator:AGG-A] --operator op-sato
 *   erab incident status 3 contained --operator op-sato [--reason R]      (open → contained → resolved → closed)
 *   erab incident close 3 --operator op-sato [--reason R]
 *   erab incident act 3 revoke --pki D --role gateway --id GW7 [--reason keyCompromise] --operator op-sato
 *   erab incident act 3 safe-mode|leave-safe-mode (--gateway URL... | --fleet gateways.json) --cert C --key K --ca CA --reason R --operator op-sato
 *   erab incident act 3 quarantine --gateway URL --device ID --cert C --key K --ca CA --reason R --operator op-sato
 *   erab incident act 3 notify --notify-db DB [--notify-config F] (--all | --participant P | --role R | --site S) [--message M] --operator op-sato
 *   erab incident report 3 [--json F] [--html F] [--lang ja|en]
 *   erab incident leak|leak-report|leak-remind ...                        (a personal-data leak's legal clock: incident-leak.ts)
 *
 * Every change is stored in the desk's store and audited in its log (incident-desk.ts).
 */
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../core/config.js';
import { PARTICIPANT_ROLES, type ParticipantRole } from '../../security/identity.js';
import { REVOCATION_REASONS, type RevocationReason } from '../../security/pki/authority.js';
import { TlsMaterial } from '../../security/tls.js';
import { openStore } from '../../store/store.js';
import { AlertBook, detectMigrations, type Alert } from '../../secops/detect/alerts.js';
import {
  buildReport, IncidentBook, INCIDENT_STATUSES, LeakBook, PLAYBOOK_STEPS, renderReportHtml, runStep, SEVERITIES,
  type IncidentStatus, type IncidentWithTimeline, type PlaybookStep, type PlaybookStepName, type Severity,
} from '../../secops/incidents/index.js';
import { ContactRegistry } from '../../secops/notify/contacts.js';
import { createNotifier, notifyConfigSchema } from '../../secops/notify/config.js';
import { notifyMigrations } from '../../secops/notify/index.js';
import { RECIPIENT_ROLES, type RecipientRole } from '../../secops/notify/types.js';
import { explain } from '../../core/errors.js';
import type { ErrorKey } from '../../core/error-messages.js';
import { UsageError } from '../usage.js';
import { formatTable } from '../table.js';
import { jstTime, t } from '../i18n.js';
import { leakClockLines, registerLeakCommands } from './incident-leak.js';
import { deskOptions, withDesk, type DeskOpts } from './incident-desk.js';
import { passphrase } from './pki.js';

/** A number on the command line: an incident's (by default) or an alert's, refused with `refusal`. */
function idArg(text: string, refusal: ErrorKey = 'cli.incident.badId'): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id < 1) throw new UsageError(explain(refusal, { value: text.slice(0, 40) }));
  return id;
}

/** Times an operator reads: JST, ISO 8601 with +09:00. */
const iso = (at: number): string => jstTime(at);

function printIncident(inc: IncidentWithTimeline): void {
  process.stdout.write(`${t('incident.header', { id: inc.id, status: inc.status, severity: inc.severity, drill: inc.drill ? t('incident.drill') : '', title: inc.title, opened: iso(inc.openedAt), by: inc.openedBy })}\n`);
  for (const e of inc.timeline) process.stdout.write(`  ${iso(e.at)} ${e.kind.padEnd(6)} ${e.actor}: ${e.summary}\n`);
}

/** An alert from the store of the role that raised it (erab alerts list shows its number). */
async function loadAlert(idText: string, alertsDb: string | undefined): Promise<Alert> {
  if (!alertsDb) throw new UsageError(explain('cli.incident.alertsDbNeeded'));
  const store = await openStore({ url: alertsDb, migrations: detectMigrations, ignoreUnknownMigrations: true });
  try {
    const alert = await new AlertBook(store).get(idArg(idText, 'cli.alerts.badId'));
    if (!alert) throw new UsageError(explain('cli.incident.noAlert', { id: idText, db: alertsDb }));
    return alert;
  } finally {
    await store.close();
  }
}

const fleetSchema = z.object({ gateways: z.array(z.string().url()).min(1).max(100_000) }).strict();

interface ActOpts extends DeskOpts {
  operator: string; reason?: string;
  pki?: string; passphraseFile?: string; role?: string; id?: string; revocationReason: RevocationReason;
  gateway?: string[]; fleet?: string; device?: string; cert?: string; key?: string; ca?: string; crl?: string;
  notifyDb?: string; notifyConfig?: string; all?: boolean; participant?: string; site?: string; recipientRole?: string; message?: string;
}

async function operatorMaterial(o: ActOpts): Promise<TlsMaterial> {
  if (!o.cert || !o.key || !o.ca) throw new UsageError(explain('cli.incident.tlsNeeded'));
  return TlsMaterial.fromFiles({ certFile: o.cert, keyFile: o.key, caFile: o.ca, ...(o.crl ? { crlFile: o.crl } : {}) });
}

function reasonOf(o: ActOpts, step: string): string {
  if (!o.reason?.trim()) throw new UsageError(explain('cli.incident.reasonNeeded', { step }));
  return o.reason.trim();
}

function gatewaysOf(o: ActOpts): string[] {
  const list = [...(o.gateway ?? [])];
  if (o.fleet) list.push(...loadConfig(fleetSchema, { file: o.fleet, env: {} }).gateways);
  if (list.length === 0) throw new UsageError(explain('cli.incident.noGateways'));
  return list;
}

/** Builds the step from the command line, then runs it within the open desk. */
async function act(book: IncidentBook, incidentId: number, step: PlaybookStepName, o: ActOpts): Promise<void> {
  let s: PlaybookStep;
  let cleanup: (() => Promise<void>) | undefined;
  switch (step) {
    case 'revoke': {
      if (!o.pki || !o.role || !o.id) throw new UsageError(explain('cli.incident.revokeNeeds'));
      if (!PARTICIPANT_ROLES.includes(o.role as ParticipantRole)) throw new UsageError(explain('cli.incident.badRole', { roles: PARTICIPANT_ROLES.join(', ') }));
      s = { step, pkiDir: o.pki, passphrase: passphrase(o), role: o.role as ParticipantRole, id: o.id, reason: o.revocationReason };
      break;
    }
    case 'safe-mode':
    case 'leave-safe-mode':
      s = { step, gateways: gatewaysOf(o), material: await operatorMaterial(o), reason: reasonOf(o, step) };
      break;
    case 'quarantine':
      if (!o.gateway?.length || !o.device) throw new UsageError(explain('cli.incident.quarantineNeeds'));
      s = { step, gateway: o.gateway[0]!, deviceId: o.device, material: await operatorMaterial(o), reason: reasonOf(o, step) };
      break;
    case 'notify': {
      if (!o.notifyDb) throw new UsageError(explain('cli.incident.notifyDbNeeded'));
      const filters = [o.all, o.participant, o.site, o.recipientRole].filter((x) => x !== undefined).length;
      if (filters !== 1) throw new UsageError(explain('cli.incident.notifyOneFilter'));
      if (o.recipientRole && !RECIPIENT_ROLES.includes(o.recipientRole as RecipientRole)) throw new UsageError(explain('cli.incident.badRecipientRole', { roles: RECIPIENT_ROLES.join(', ') }));
      const store = await openStore({ url: o.notifyDb, migrations: notifyMigrations, ignoreUnknownMigrations: true });
      cleanup = () => store.close();
      const config = o.notifyConfig ? loadConfig(notifyConfigSchema, { file: o.notifyConfig }) : notifyConfigSchema.parse({});
      const recipients = await new ContactRegistry(store).list({
        ...(o.participant ? { participantId: o.participant } : {}), ...(o.site ? { siteId: o.site } : {}), ...(o.recipientRole ? { role: o.recipientRole as RecipientRole } : {}),
      });
      s = { step, notifier: createNotifier(store, config), recipients, message: o.message };
      break;
    }
  }
  try {
    const e = await runStep(book, incidentId, o.operator, s);
    process.stdout.write(`${t(e.details.outcome === 'success' ? 'incident.stepDone' : 'incident.stepFailed', { summary: e.summary })}\n`);
    if (e.details.outcome !== 'success') process.exitCode = 1;
  } finally {
    await cleanup?.();
  }
}

export function register(program: Command): void {
  const incident = program.command('incident').description('Security incidents: open from an alert or by hand, timeline, playbook actions, report');

  deskOptions(incident.command('open'))
    .description('Open an incident from an alert (with its evidence) or by hand')
    .requiredOption('--operator <id>', 'who opens it')
    .option('--alert <id>', 'the alert number (erab alerts list)')
    .option('--alerts-db <url>', 'the store of the role that raised the alert')
    .option('--source <participant>', 'the role that raised it, e.g. aggregator:AGG-A')
    .option('--title <text>', 'title (default: the alert\'s rule and summary)')
    .addOption(new Option('--severity <s>', 'severity (default: the alert\'s)').choices([...SEVERITIES]))
    .option('--json', 'print the incident as JSON')
    .action(async (o: DeskOpts & { operator: string; alert?: string; alertsDb?: string; source?: string; title?: string; severity?: Severity; json?: boolean }) => {
      if (o.alert === undefined && !o.title) throw new UsageError(explain('cli.incident.alertOrTitle'));
      const alert = o.alert !== undefined ? await loadAlert(o.alert, o.alertsDb) : undefined;
      const inc = await withDesk(o, (store, audit) => new IncidentBook(store, audit).open({
        by: o.operator, ...(o.title ? { title: o.title } : {}), ...(o.severity ? { severity: o.severity } : {}), ...(alert ? { alert } : {}), ...(o.source ? { alertSource: o.source } : {}),
      }));
      if (o.json) process.stdout.write(`${JSON.stringify(inc, null, 2)}\n`);
      else printIncident(inc);
    });

  deskOptions(incident.command('list'))
    .description('List incidents, newest first')
    .addOption(new Option('--status <s>', 'only this status').choices([...INCIDENT_STATUSES]))
    .option('--json', 'as JSON')
    .action(async (o: DeskOpts & { status?: IncidentStatus; json?: boolean }) => {
      const list = await withDesk(o, (store, audit) => new IncidentBook(store, audit).list(o.status ? { status: o.status } : {}));
      if (o.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else process.stdout.write(formatTable(
        ['id', 'status', 'severity', 'title', 'opened', 'by'].map((k) => ({ header: t(`incident.col.${k}`) })),
        list.map((i) => [`#${i.id}`, i.status, i.severity, i.title + (i.drill ? t('incident.drill') : ''), iso(i.openedAt), i.openedBy]),
        t('incident.none'),
      ));
    });

  deskOptions(incident.command('show'))
    .description('Show an incident with its timeline')
    .argument('<id>')
    .option('--json', 'as JSON')
    .action(async (idText: string, o: DeskOpts & { json?: boolean }) => {
      const [inc, leak] = await withDesk(o, async (store, audit) => {
        const book = new IncidentBook(store, audit);
        const i = await book.show(idArg(idText));
        return [i, await new LeakBook(store, book, audit).find(i.id, Date.now())] as const;
      });
      if (o.json) process.stdout.write(`${JSON.stringify(leak ? { ...inc, leak } : inc, null, 2)}\n`);
      else {
        printIncident(inc);
        if (leak) process.stdout.write(`  ${t('incident.leak.shown')}\n${leakClockLines(leak).map((l) => `    ${l}\n`).join('')}`);
      }
    });

  deskOptions(incident.command('note'))
    .description('Add a note to the timeline')
    .argument('<id>').argument('<text>')
    .requiredOption('--operator <id>', 'who writes it')
    .action(async (idText: string, text: string, o: DeskOpts & { operator: string }) => {
      const e = await withDesk(o, (store, audit) => new IncidentBook(store, audit).note(idArg(idText), o.operator, text));
      process.stdout.write(`${t('incident.noted', { id: e.id })}\n`);
    });

  deskOptions(incident.command('add-alert'))
    .description('Add another alert (with its evidence) to an incident\'s timeline')
    .argument('<id>')
    .requiredOption('--alert <n>', 'the alert number (erab alerts list)')
    .requiredOption('--alerts-db <url>', 'the store of the role that raised it')
    .option('--source <participant>', 'the role that raised it')
    .requiredOption('--operator <id>', 'who adds it')
    .action(async (idText: string, o: DeskOpts & { alert: string; alertsDb: string; source?: string; operator: string }) => {
      const alert = await loadAlert(o.alert, o.alertsDb);
      const e = await withDesk(o, (store, audit) => new IncidentBook(store, audit).addAlert(idArg(idText), o.operator, alert, o.source));
      process.stdout.write(`${t('incident.added', { id: e.id, summary: e.summary })}\n`);
    });

  deskOptions(incident.command('status'))
    .description('Move an incident forward: open → contained → resolved → closed')
    .argument('<id>').argument('<status>')
    .requiredOption('--operator <id>', 'who decides it')
    .option('--reason <text>', 'why')
    .action(async (idText: string, status: string, o: DeskOpts & { operator: string; reason?: string }) => {
      if (!INCIDENT_STATUSES.includes(status as IncidentStatus)) throw new UsageError(explain('cli.incident.badStatus', { statuses: INCIDENT_STATUSES.join(', ') }));
      const inc = await withDesk(o, (store, audit) => new IncidentBook(store, audit).setStatus(idArg(idText), status as IncidentStatus, o.operator, o.reason));
      process.stdout.write(`${t('incident.statusNow', { id: inc.id, status: inc.status })}\n`);
    });

  deskOptions(incident.command('close'))
    .description('Close an incident (nothing more is added to its timeline)')
    .argument('<id>')
    .requiredOption('--operator <id>', 'who closes it')
    .option('--reason <text>', 'why')
    .action(async (idText: string, o: DeskOpts & { operator: string; reason?: string }) => {
      const inc = await withDesk(o, (store, audit) => new IncidentBook(store, audit).setStatus(idArg(idText), 'closed', o.operator, o.reason));
      process.stdout.write(`${t('incident.statusNow', { id: inc.id, status: inc.status })}\n`);
    });

  deskOptions(incident.command('act'))
    .description(`Run a playbook step for an incident (${PLAYBOOK_STEPS.join(', ')}); its outcome goes to the timeline`)
    .argument('<id>').argument('<step>')
    .requiredOption('--operator <id>', 'who acts')
    .option('--reason <text>', 'why (safe-mode, quarantine)')
    .option('--pki <dir>', 'revoke: the PKI folder')
    .option('--passphrase-file <file>', 'revoke: CA key passphrase (else $ERAB_CA_PASSPHRASE)')
    .option('--role <role>', 'revoke: participant role')
    .option('--id <id>', 'revoke: participant id')
    .addOption(new Option('--revocation-reason <r>', 'revoke: RFC 5280 reason').choices([...REVOCATION_REASONS]).default('keyCompromise'))
    .option('--gateway <url>', "gateway operator endpoint (repeatable), e.g. https://127.0.0.1:9464", (v: string, p?: string[]) => [...(p ?? []), v])
    .option('--fleet <file>', 'safe-mode: JSON {"gateways": [operator URLs]}, the whole fleet')
    .option('--device <id>', 'quarantine: the device id')
    .option('--cert <file>', 'your operator certificate').option('--key <file>', 'its key').option('--ca <file>', 'the CA').option('--crl <file>', 'the CRL')
    .option('--notify-db <url>', 'notify: the store holding the contacts')
    .option('--notify-config <file>', 'notify: channels (SMTP, webhook)')
    .option('--all', 'notify: every contact').option('--participant <id>', 'notify: contacts of this participant')
    .option('--site <id>', 'notify: contacts of this site').option('--recipient-role <role>', `notify: contacts with this role (${RECIPIENT_ROLES.join(', ')}); a TSO or retailer is reached by --participant`)
    .option('--message <text>', 'notify: a message added to the notice')
    .action(async (idText: string, step: string, o: ActOpts) => {
      if (!PLAYBOOK_STEPS.includes(step as PlaybookStepName)) throw new UsageError(explain('cli.incident.badStep', { steps: PLAYBOOK_STEPS.join(', ') }));
      await withDesk(o, (store, audit) => act(new IncidentBook(store, audit), idArg(idText), step as PlaybookStepName, o));
    });

  deskOptions(incident.command('report'))
    .description('The incident report (自家用GL 10-3): JSON and a readable HTML page')
    .argument('<id>')
    .option('--json <file>', 'write the JSON report here (default: stdout)')
    .option('--html <file>', 'write the HTML page here')
    .addOption(new Option('--lang <lang>', 'language of the page').choices(['ja', 'en']).default('ja'))
    .action(async (idText: string, o: DeskOpts & { json?: string; html?: string; lang: 'ja' | 'en' }) => {
      const report = await withDesk(o, async (store, audit) => {
        const book = new IncidentBook(store, audit);
        const inc = await book.show(idArg(idText));
        const now = Date.now();
        return buildReport(inc, now, await new LeakBook(store, book, audit).find(inc.id, now));
      });
      const json = `${JSON.stringify(report, null, 2)}\n`;
      if (o.json) writeFileSync(o.json, json);
      else if (!o.html) process.stdout.write(json);
      if (o.html) writeFileSync(o.html, renderReportHtml(report, o.lang));
      if (o.json || o.html) process.stdout.write(`${t('incident.reportWritten', { id: report.incident.id, files: `${o.json ? `: ${o.json}` : ''}${o.html ? ` ${o.html}` : ''}` })}\n`);
    });

  registerLeakCommands(incident);
}

