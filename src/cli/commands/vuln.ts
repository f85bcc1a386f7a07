/**
 * `erab vuln ...`: vulnerability management over the aggregator's store (issue 13, src/secops).
 * The store is `--db <url>` (SQLite file or postgres:// URL), by default $ERAB_AGGREGATOR_DB or
 * ./aggregator.db, the same one `erab aggregator portfolio` uses; the inventory is read from the
 * portfolio there. Status changes go to the audit log given by --audit-dir (default
 * $ERAB_AGGREGATOR_AUDIT_DIR), attributed to --operator (default: the OS account).
 *
 *   erab vuln maker 00007B example_energy --name "Example Energy"   CPE vendor of a maker code
 *   erab vuln inventory [--cyclonedx bom.json] [--json]            sync and list (or export)
 *   erab vuln history <asset> [--json]                              change history of one asset
 *   erab vuln import <file|url> --format nvd|jvn|csaf               import a feed, then match
 *   erab vuln imports [--json]                                      recorded imports
 *   erab vuln match                                                 re-evaluate every finding
 *   erab vuln findings [--status s,..] [--advisory id] [--json]     list findings
 *   erab vuln notified|mitigated|patched|close|reopen <finding..> --reason ...
 *   erab vuln accept <finding..> --reason ... --approver ... --expires 2027-03-31|30d
 *   erab vuln notify <advisory|CVE> --notify-config notify.json [--deadline 14d] [--json]
 *                                    tell every affected site's and participant-level contact at once
 */
import { Option, type Command } from 'commander';
import { formatTable } from '../table.js';
import { jstTime } from '../i18n.js';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kysely } from 'kysely';
import { InvalidInputError, becauseOf, describeError, explain } from '../../core/errors.js';
import { systemClock } from '../../core/clock.js';
import { openStore, type Store } from '../../store/store.js';
import { loadConfig } from '../../core/config.js';
import { notifyAdvisory } from '../../secops/advisory-notice.js';
import { ContactRegistry } from '../../secops/notify/contacts.js';
import { createNotifier, notifyConfigSchema } from '../../secops/notify/config.js';
import { GatewayNoticeBoard } from '../../secops/notify/gateway-board.js';
import { notifyMigrations } from '../../secops/notify/tables.js';
import { composeMigrations } from '../../store/migrations.js';
import { portfolioMigrations, type PortfolioTables } from '../../roles/aggregator/portfolio/tables.js';
import type { AuditSink } from '../../security/audit/types.js';
import {
  FEED_FORMATS, FINDING_STATUSES, acceptRisk, assetHistory, buildCycloneDx, evaluateFindings, fetchFeed, importFeed, listAssets, listFindings, listImports,
  readSoftwareReport, secopsMigrations, setFindingStatus, setMaker, syncInventoryFromPortfolio,
  type FeedFormat, type FindingStatus, type SecopsTables, DEFAULT_MAX_FEED_BYTES,
} from '../../secops/index.js';
import { UsageError } from '../usage.js';
import { openAudit, operator } from './aggregator-portfolio.js';

type Db = Kysely<SecopsTables & PortfolioTables>;
const DEFAULT_DB = (): string => process.env.ERAB_AGGREGATOR_DB ?? 'aggregator.db';
/** The installed erab (the folder with package.json and package-lock.json): its software inventory. */
const ERAB_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

interface CommonOpts { db?: string; auditDir?: string; operator?: string }

async function withVuln<T>(opts: CommonOpts, fn: (db: Db, audit: AuditSink | undefined, store: Store<SecopsTables & PortfolioTables>) => Promise<T>): Promise<T> {
  const auditDir = opts.auditDir ?? (process.env.ERAB_AGGREGATOR_AUDIT_DIR || undefined);
  const audit = auditDir !== undefined ? openAudit(auditDir) : undefined;
  try {
    const store = await openStore<SecopsTables & PortfolioTables>({ url: opts.db ?? DEFAULT_DB(), migrations: composeMigrations(portfolioMigrations, secopsMigrations, notifyMigrations), ignoreUnknownMigrations: true });
    try {
      return await fn(store.db, audit, store);
    } finally {
      await store.close();
    }
  } finally {
    audit?.close();
  }
}

const common = (c: Command): Command => c
  .option('--db <url>', 'aggregator store: SQLite file or postgres:// URL (default $ERAB_AGGREGATOR_DB or ./aggregator.db)')
  .option('--audit-dir <dir>', 'audit log to record in (default $ERAB_AGGREGATOR_AUDIT_DIR; none if unset)')
  .option('--operator <id>', 'operator the action is attributed to (default: the OS account)');

/**
 * Brings the inventory up to date with the portfolio (sites, gateways and the software each
 * gateway reported). erab's own software is recorded by each running role from its own
 * installation (`erab aggregator run` at start), not by this command from wherever it runs.
 */
async function refreshInventory(db: Db, audit: AuditSink | undefined): Promise<void> {
  await syncInventoryFromPortfolio(db, audit ? { audit } : {});
}

/** This erab's software report, or undefined (with a warning) when its lock file is not installed. */
async function softwareReport() {
  try {
    return await readSoftwareReport(ERAB_ROOT, 'aggregator');
  } catch (err) {
    process.stderr.write(`warning: erab's own software is not in the inventory: ${describeError(err)}\n`);
    return undefined;
  }
}

/** An aligned table (src/cli/table.ts), without its last newline. */
const table = (head: string[], rows: string[][]): string => formatTable(head.map((header) => ({ header })), rows).trimEnd() || head.join('  ');

/** `2027-03-31`, an ISO instant, or a duration from now: `30d`, `12h`. */
export function parseExpiry(text: string, now: number): number {
  const d = /^(\d{1,4})([dh])$/.exec(text.trim());
  if (d) return now + Number(d[1]) * (d[2] === 'd' ? 86_400_000 : 3_600_000);
  const t = Date.parse(text);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(text)) throw new UsageError(explain('cli.vuln.badExpires', { value: text }));
  return t;
}

const parseStatuses = (s: string): FindingStatus[] => s.split(',').map((x) => {
  if (!(FINDING_STATUSES as readonly string[]).includes(x)) throw new UsageError(explain('cli.vuln.badStatus', { value: x, values: FINDING_STATUSES.join(', ') }));
  return x as FindingStatus;
});

export function register(program: Command): void {
  const vuln = program.command('vuln').description('Vulnerability management: inventory, advisory feeds (NVD, JVN, CSAF), findings');

  common(vuln.command('maker').description('Record the CPE vendor of an ECHONET Lite maker code, so its devices get CPE names')
    .argument('<maker-code>', 'ECHONET Lite maker code (0x8A), 6 hex digits').argument('<cpe-vendor>', 'CPE vendor as NVD/JVN spell it')
    .option('--name <name>', "the maker's name (for the name fallback)", ''))
    .action(async (code: string, vendor: string, opts: CommonOpts & { name: string }) => {
      await withVuln(opts, async (db) => setMaker(db, code, vendor, opts.name || vendor, systemClock.now()));
      process.stdout.write(`maker ${code.toUpperCase()} → CPE vendor ${vendor.toLowerCase()}\n`);
    });

  common(vuln.command('inventory').description('Bring the inventory up to date and list it, or export it as CycloneDX 1.6 JSON')
    .option('--cyclonedx <file>', 'write the inventory as CycloneDX 1.6 JSON to this file')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(['participant', 'gateway', 'device', 'software']))
    .option('--json', 'print JSON'))
    .action(async (opts: CommonOpts & { cyclonedx?: string; kind?: 'participant' | 'gateway' | 'device' | 'software'; json?: boolean }) => {
      await withVuln(opts, async (db, audit) => {
        await refreshInventory(db, audit);
        if (opts.cyclonedx !== undefined) {
          const json = buildCycloneDx(await listAssets(db, { presentOnly: true }), await softwareReport());
          await writeFile(opts.cyclonedx, json);
          process.stdout.write(`wrote CycloneDX 1.6 to ${opts.cyclonedx}\n`);
          return;
        }
        const assets = await listAssets(db, opts.kind ? { kind: opts.kind } : {});
        if (opts.json) return void process.stdout.write(`${JSON.stringify(assets, null, 2)}\n`);
        process.stdout.write(`${table(['ID', 'KIND', 'MGMT_NO', 'SITE', 'GATEWAY', 'MAKER', 'PRODUCT', 'SERIAL', 'VERSION', 'PRESENT', 'LAST_SEEN'],
          assets.map((a) => [a.id, a.kind, a.management_no, a.site_id ?? '-', a.gateway_id ?? '-', a.maker_code ?? '-', a.product_code ?? '-', a.serial_number ?? '-', a.version ?? '-', a.present ? 'yes' : 'no', jstTime(a.last_seen)]))}\n`);
      });
    });

  common(vuln.command('history').description('Change history of one asset').argument('<asset>', 'asset id, e.g. device:bat-001'))
    .option('--json', 'print JSON')
    .action(async (asset: string, opts: CommonOpts & { json?: boolean }) => {
      await withVuln(opts, async (db) => {
        const h = await assetHistory(db, asset);
        if (h.length === 0) throw new InvalidInputError(explain('cli.vuln.noHistory', { asset }));
        if (opts.json) process.stdout.write(`${JSON.stringify(h, null, 2)}\n`);
        else process.stdout.write(`${table(['AT (JST)', 'FIELD', 'OLD', 'NEW'], h.map((c) => [jstTime(c.at), c.field, c.oldValue ?? '-', c.newValue ?? '-']))}\n`);
      });
    });

  common(vuln.command('import').description('Import an advisory feed from a file (or an http(s) URL), then re-evaluate findings')
    .argument('<file-or-url>', 'feed file, or URL of a configured feed')
    .addOption(new Option('--format <format>', 'feed format').choices([...FEED_FORMATS]).makeOptionMandatory())
    .option('--max-bytes <n>', 'size limit', String(DEFAULT_MAX_FEED_BYTES))
    .option('--no-match', 'do not re-evaluate findings after the import'))
    .action(async (src: string, opts: CommonOpts & { format: FeedFormat; maxBytes: string; match: boolean }) => {
      const maxBytes = Number(opts.maxBytes);
      if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new UsageError(explain('cli.vuln.badMaxBytes', { value: opts.maxBytes }));
      let bytes: Uint8Array;
      if (/^https?:\/\//i.test(src)) bytes = await fetchFeed(src, { maxBytes });
      else {
        try {
          const st = await stat(src);
          if (!st.isFile()) throw new InvalidInputError(explain('file.notRegular'));
          if (st.size > maxBytes) throw new InvalidInputError(explain('cli.vuln.feedTooLarge', { file: src, size: st.size, max: maxBytes }), { code: 'feed_refused' });
          bytes = await readFile(src);
        } catch (err) {
          if (err instanceof InvalidInputError && err.key === 'cli.vuln.feedTooLarge') throw err;
          throw new InvalidInputError(explain('cli.cannotRead', { file: src, ...becauseOf(err) }));
        }
      }
      await withVuln(opts, async (db, audit) => {
        const s = await importFeed(db, { format: opts.format, bytes, source: src, actor: operator(opts.operator), limits: { maxBytes }, ...(audit ? { audit } : {}) });
        process.stdout.write(`imported ${src} (${s.format}, sha256 ${s.sha256}): ${s.records} records, ${s.added} new, ${s.updated} updated, ${s.unchanged} unchanged\n`);
        if (opts.match) {
          await refreshInventory(db, audit);
          const r = await evaluateFindings(db, audit ? { audit } : {});
          process.stdout.write(`findings: ${r.opened} new, ${r.reopened} reopened, ${r.patched} patched, ${r.closed} closed (${r.assets} assets × ${r.advisories} advisories)\n`);
        }
      });
    });

  common(vuln.command('imports').description('Recorded feed imports, newest first'))
    .option('--json', 'print JSON')
    .action(async (opts: CommonOpts & { json?: boolean }) => {
      await withVuln(opts, async (db) => {
        const rows = await listImports(db);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        process.stdout.write(`${table(['ID', 'AT (JST)', 'FORMAT', 'RECORDS', 'NEW', 'UPDATED', 'SHA256', 'SOURCE'], rows.map((r) => [String(r.id), jstTime(Number(r.imported_at)), r.format, String(r.records), String(r.added), String(r.updated), r.sha256.slice(0, 16), r.source]))}\n`);
      });
    });

  common(vuln.command('match').description('Bring the inventory up to date and re-evaluate every finding (expired risk acceptances reopen)'))
    .action(async (opts: CommonOpts) => {
      await withVuln(opts, async (db, audit) => {
        await refreshInventory(db, audit);
        const r = await evaluateFindings(db, audit ? { audit } : {});
        process.stdout.write(`${r.assets} assets × ${r.advisories} advisories: ${r.matches} matches; ${r.opened} new, ${r.reopened} reopened, ${r.updated} updated, ${r.patched} patched, ${r.closed} closed, ${r.expired} acceptances expired\n`);
      });
    });

  common(vuln.command('findings').description('List findings, highest CVSS first')
    .option('--status <list>', `comma-separated statuses (${FINDING_STATUSES.join(', ')})`)
    .option('--advisory <id>', 'advisory id (CVE-..., JVNDB-..., CSAF tracking id) or uid (nvd:CVE-...)')
    .option('--site <id>', 'only this site')
    .option('--json', 'print JSON'))
    .action(async (opts: CommonOpts & { status?: string; advisory?: string; site?: string; json?: boolean }) => {
      await withVuln(opts, async (db) => {
        const list = await listFindings(db, { ...(opts.status ? { status: parseStatuses(opts.status) } : {}), ...(opts.advisory ? { advisory: opts.advisory } : {}), ...(opts.site ? { siteId: opts.site } : {}) });
        if (opts.json) return void process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        process.stdout.write(`${table(['FINDING', 'STATUS', 'CVSS', 'KEV', 'CONFIDENCE', 'ADVISORY', 'ASSET', 'SITE', 'VERSION', 'AFFECTED'],
          list.map((f) => [f.id, f.status, f.cvssScore === null ? '-' : f.cvssScore.toFixed(1), f.knownExploited ? 'yes' : '-', `${f.confidence}/${f.matchKind}`, f.advisory.uid, f.asset.id, f.asset.siteId ?? '-', f.matchedVersion ?? '-', f.affectedRange]))}\n`);
      });
    });

  const move = (name: string, to: FindingStatus, description: string, reasonRequired: boolean) =>
    common(vuln.command(name).description(description).argument('<finding...>', 'finding ids (F-...)')
      .option('--reason <text>', reasonRequired ? 'why (required)' : 'why'))
      .action(async (ids: string[], opts: CommonOpts & { reason?: string }) => {
        await withVuln(opts, (db, audit) => setFindingStatus(db, ids, to, { actor: operator(opts.operator), reason: opts.reason }, audit ? { audit } : {}));
        process.stdout.write(`${ids.length} finding${ids.length === 1 ? '' : 's'} → ${to}\n`);
      });
  move('notified', 'notified', 'Mark findings notified (users told)', false);
  move('mitigated', 'mitigated', 'Mark findings mitigated (an alternative measure is in place)', false);
  move('patched', 'patched', 'Mark findings patched', false);
  move('close', 'closed', 'Close findings', true);
  move('reopen', 'open', 'Reopen findings', true);

  common(vuln.command('accept').description('Accept the residual risk of findings until an expiry (then they reopen)')
    .argument('<finding...>', 'finding ids (F-...)')
    .requiredOption('--reason <text>', 'why the risk is acceptable')
    .requiredOption('--approver <id>', 'who approved it')
    .requiredOption('--expires <when>', 'until when: a date (2027-03-31) or a duration (30d, 12h)'))
    .action(async (ids: string[], opts: CommonOpts & { reason: string; approver: string; expires: string }) => {
      const expires = parseExpiry(opts.expires, systemClock.now());
      await withVuln(opts, (db, audit) => acceptRisk(db, ids, { actor: operator(opts.operator), reason: opts.reason, approver: opts.approver, expires }, audit ? { audit } : {}));
      process.stdout.write(`${ids.length} finding${ids.length === 1 ? '' : 's'} → risk_accepted until ${jstTime(expires)}\n`);
    });

  common(vuln.command('notify').description("Notify every recipient an advisory affects at once (the affected sites' contacts and the participant-level ones), then mark its findings notified")
    .argument('<advisory>', 'advisory id (CVE-..., JVNDB-..., CSAF tracking id) or uid')
    .option('--notify-config <file>', 'notification configuration: SMTP, webhook TLS, retry schedule (default $ERAB_NOTIFY_CONFIG)')
    .option('--deadline <when>', 'deadline for the countermeasure: a date (2027-03-31) or a duration (14d, 12h)', '14d')
    .option('--countermeasure <text>', "what to do (default: the advisory's fix)")
    .option('--participant <id>', 'participant-level contacts of this participant only (default: all of them)')
    .option('--notifier <id>', 'the notifying participant (this aggregator\'s id): its participant-level contacts are told every affected site; every other recipient only its own')
    .option('--json', 'print JSON'))
    .action(async (advisory: string, opts: CommonOpts & { notifyConfig?: string; deadline: string; countermeasure?: string; participant?: string; notifier?: string; json?: boolean }) => {
      const file = opts.notifyConfig ?? (process.env.ERAB_NOTIFY_CONFIG || undefined);
      if (file === undefined) throw new UsageError(explain('cli.vuln.notifyConfigRequired'));
      const config = loadConfig(notifyConfigSchema, { file, envPrefix: 'ERAB_NOTIFY_' });
      const deadline = parseExpiry(opts.deadline, systemClock.now());
      await withVuln(opts, async (db, audit, store) => {
        const deps = audit ? { audit } : {};
        // Sends directly; a running aggregator's notifier retries what stays pending (same store).
        const notifier = createNotifier(store, config, { ...deps, board: new GatewayNoticeBoard(store, deps) });
        try {
          const r = await notifyAdvisory(db, { notifier, contacts: new ContactRegistry(store) }, advisory, {
            actor: operator(opts.operator), deadline, ...deps,
            ...(opts.countermeasure !== undefined ? { countermeasure: opts.countermeasure } : {}),
            ...(opts.participant !== undefined ? { participantId: opts.participant } : {}),
            ...(opts.notifier !== undefined ? { notifierId: opts.notifier } : {}),
          });
          const names = new Map(r.recipients.map((c) => [c.id, c]));
          const rows = r.deliveries.map((d) => ({
            contactId: d.contactId, name: names.get(d.contactId)?.name ?? '', siteId: names.get(d.contactId)?.siteId ?? null, channel: d.channel, address: d.address,
            // A gateway delivery completes when the gateway fetches and acknowledges the notice.
            result: d.status === 'delivered' ? 'delivered' : d.channel === 'gateway' && d.lastError?.startsWith('queued') === true ? 'queued for the gateway' : d.status,
            attempts: d.attempts, error: d.lastError,
          }));
          const issuedAt = jstTime(r.notice.issuedAt);
          if (opts.json) {
            return void process.stdout.write(`${JSON.stringify({ advisory: r.advisoryId, title: r.title, noticeId: r.notice.id, issuedAt, sites: r.sites, findings: r.findings.length, recipients: r.recipients.length, deliveries: rows }, null, 2)}\n`);
          }
          process.stdout.write(`${r.advisoryId} ${r.title}\nnotice ${r.notice.id} issued at ${issuedAt} to ${r.recipients.length} recipients of ${r.sites.length} sites; ${r.findings.length} findings → notified\n`);
          process.stdout.write(`${table(['CONTACT', 'NAME', 'SITE', 'CHANNEL', 'ADDRESS', 'RESULT', 'ATTEMPTS', 'ERROR'],
            rows.map((x) => [String(x.contactId), x.name, x.siteId ?? '-', x.channel, x.address, x.result, String(x.attempts), x.error ?? '']))}\n`);
          if (rows.some((x) => x.result === 'pending')) process.stdout.write('pending deliveries are retried by a running aggregator (erab aggregator run --notify-config) or `erab notify retry`\n');
        } finally {
          await notifier.close();
        }
      });
    });
}
