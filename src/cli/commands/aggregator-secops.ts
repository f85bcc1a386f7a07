/**
 * What `erab aggregator run` adds to the aggregator role from secops (roles never import secops):
 * the vulnerability and notification tables in its store, re-evaluation of findings when a
 * gateway's inventory changes (a signed update reports the new firmware → `patched`), the
 * gateway notice board on the R4 listener (gateways fetch site notices over mutual TLS), and a
 * notifier that retries pending deliveries (those `erab vuln notify` or `erab notify send` left)
 * for as long as the aggregator runs.
 *
 * The notifier's channels come from a notification configuration (src/secops/notify/config.ts):
 * `--notify-config <file>`, else $ERAB_NOTIFY_CONFIG, else `notify.json` next to the aggregator's
 * configuration file when there is one; without any, only the gateway channel is used.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../core/config.js';
import type { ExtraRoute } from '../../protocols/openadr/http.js';
import type { Attach } from '../../roles/common/composition.js';
import type { PortfolioTables } from '../../roles/aggregator/portfolio/tables.js';
import { composeMigrations } from '../../store/migrations.js';
import type { Store } from '../../store/store.js';
import type { AuditActor, AuditSink } from '../../core/audit-port.js';
import { InvalidInputError, explain } from '../../core/errors.js';
import { notifyAdvisory } from '../../secops/advisory-notice.js';
import { importFeed } from '../../secops/feeds/import.js';
import { FEED_FORMATS, type FeedFormat } from '../../secops/feeds/model.js';
import { syncInventoryFromPortfolio } from '../../secops/inventory/sync.js';
import { ownSoftwareAttachment } from '../../secops/inventory/own-software.js';
import { evaluateFindings } from '../../secops/matching/findings.js';
import { listFindings } from '../../secops/matching/query.js';
import { ContactRegistry } from '../../secops/notify/contacts.js';
import type { ContactInput } from '../../secops/notify/types.js';
import { readFileSync } from 'node:fs';
import { InventoryReevaluator } from '../../secops/matching/reevaluate.js';
import type { EvaluateResult } from '../../secops/matching/findings.js';
import { createNotifier, notifyConfigSchema, type NotifyConfig } from '../../secops/notify/config.js';
import { GatewayNoticeBoard, gatewayNoticeRoutes, NOTICE_ACK_PATH, NOTICE_FETCH_PATH } from '../../secops/notify/gateway-board.js';
import type { Notifier } from '../../secops/notify/notifier.js';
import { notifyMigrations } from '../../secops/notify/tables.js';
import { secopsMigrations, type SecopsTables } from '../../secops/tables.js';

/** The sibling file looked for next to the aggregator's configuration. */
export const NOTIFY_SIBLING = 'notify.json';

/** The notification configuration file to use, if any (option, environment, sibling file). */
export function notifyConfigFile(option: string | undefined, aggregatorConfigFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (option !== undefined) return option;
  if (env.ERAB_NOTIFY_CONFIG) return env.ERAB_NOTIFY_CONFIG;
  const sibling = aggregatorConfigFile !== undefined ? join(dirname(aggregatorConfigFile), NOTIFY_SIBLING) : undefined;
  return sibling !== undefined && existsSync(sibling) ? sibling : undefined;
}

export interface SecopsWiringOptions {
  /** Notification configuration (channels, retry); default: the gateway channel only. */
  notify?: NotifyConfig;
  /** Delay before re-evaluating findings after an inventory change (default 30 s of the role's clock). */
  reevaluateDelayMs?: number;
  onReevaluated?: (r: EvaluateResult) => void;
  onError?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** A running aggregator's secops parts, once its store is open. */
export interface SecopsAttached {
  /** The aggregator's id: the participant that sends notices. */
  id: string;
  store: Store;
  audit: AuditSink;
  board: GatewayNoticeBoard;
  notifier: Notifier;
}

/** What secopsWiring adds to startAggregator's deps (spread them, or let aggregatorSecops do it). */
export interface SecopsWiringDeps {
  extraMigrations: readonly import('../../store/migrations.js').Migration[];
  routes: ReadonlyMap<string, ExtraRoute>;
  attach: readonly Attach[];
}

/**
 * The deps to merge into startAggregator's: migrations, notice routes and the attachment that
 * opens the notice board, runs the notifier and re-evaluates findings on inventory changes.
 * @example const s = secopsWiring({ notify: loadNotifyConfig(file) }); await startAggregator(cfg, { ...s.deps });
 */
export function secopsWiring(opts: SecopsWiringOptions = {}): { deps: SecopsWiringDeps; attached(): SecopsAttached | undefined } {
  let parts: SecopsAttached | undefined;
  // The board needs the store, which the role opens later than its routes are given: the routes
  // resolve it per request (no request arrives before the listener, which starts after attach).
  const routeOf = (path: string): ExtraRoute => async (body, peer) => {
    if (!parts) return { status: 503, contentType: 'text/plain', body: 'notice board not ready' };
    return gatewayNoticeRoutes(parts.board, parts.audit).get(path)!(body, peer);
  };
  const attach: Attach = (ctx) => {
    const board = new GatewayNoticeBoard(ctx.store, { audit: ctx.audit, clock: ctx.clock });
    const notifier = createNotifier(ctx.store, opts.notify ?? notifyConfigSchema.parse({}), { audit: ctx.audit, clock: ctx.clock, board, ...(opts.env ? { env: opts.env } : {}) });
    notifier.start();
    parts = { id: ctx.id, store: ctx.store, audit: ctx.audit, board, notifier };
    // A gateway's new inventory (firmware updated, device added) re-evaluates vulnerability findings.
    const r = new InventoryReevaluator(ctx.store.db.withTables<SecopsTables & PortfolioTables>(), {
      clock: ctx.clock, audit: ctx.audit,
      ...(opts.reevaluateDelayMs !== undefined ? { delayMs: opts.reevaluateDelayMs } : {}),
      ...(opts.onReevaluated ? { onResult: opts.onReevaluated } : {}),
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
    return {
      inventoryChanged: () => r.changed(),
      stop: async () => {
        await r.stop();
        await notifier.close();
      },
    };
  };
  return {
    attached: () => parts,
    deps: {
      extraMigrations: composeMigrations(secopsMigrations, notifyMigrations),
      routes: new Map([[NOTICE_FETCH_PATH, routeOf(NOTICE_FETCH_PATH)], [NOTICE_ACK_PATH, routeOf(NOTICE_ACK_PATH)]]),
      // The aggregator's own software (erab, Node.js, npm tree of this process) in its inventory.
      attach: [attach, ownSoftwareAttachment()],
    },
  };
}

/** Reads a notification configuration file (ERAB_NOTIFY_* variables override it). */
export const loadNotifyConfig = (file: string): NotifyConfig => loadConfig(notifyConfigSchema, { file, envPrefix: 'ERAB_NOTIFY_' });

const SUPERVISOR: AuditActor = { kind: 'operator', id: 'demo-operator' };

/**
 * Supervisor commands (`erab demo` drives a running aggregator with them, in its process, so its
 * audit log records every step): `vuln-import` {file, format}, `notify-contact-add` {contact},
 * `vuln-notify` {advisory, deadline}, `notify-deliveries` {noticeId}, `vuln-findings` {advisory}.
 */
export async function secopsCommand(parts: SecopsAttached | undefined, command: string, args: Record<string, unknown>): Promise<unknown> {
  if (!parts) throw new InvalidInputError(explain('cli.supervisor.storeNotOpen', { command }));
  const db = parts.store.db.withTables<SecopsTables & PortfolioTables>();
  const str = (k: string): string => {
    const v = args[k];
    if (typeof v !== 'string' || v === '') throw new InvalidInputError(explain('cli.supervisor.notString', { command, name: k }));
    return v;
  };
  switch (command) {
    case 'vuln-import': {
      const format = str('format');
      if (!(FEED_FORMATS as readonly string[]).includes(format)) throw new InvalidInputError(explain('cli.supervisor.badFormat', { command, formats: FEED_FORMATS.join(', ') }));
      const file = str('file');
      const s = await importFeed(db, { format: format as FeedFormat, bytes: readFileSync(file), source: file, actor: SUPERVISOR, audit: parts.audit });
      await syncInventoryFromPortfolio(db, { audit: parts.audit });
      const r = await evaluateFindings(db, { audit: parts.audit });
      return { records: s.records, added: s.added, sha256: s.sha256, opened: r.opened };
    }
    case 'notify-contact-add':
      return (await new ContactRegistry(parts.store, { audit: parts.audit }).add(args.contact as ContactInput, SUPERVISOR)).id;
    case 'vuln-notify': {
      const r = await notifyAdvisory(db, { notifier: parts.notifier, contacts: new ContactRegistry(parts.store) }, str('advisory'), { actor: SUPERVISOR, deadline: Number(args.deadline), notifierId: parts.id, audit: parts.audit });
      return {
        advisory: r.advisoryId, title: r.title, noticeId: r.notice.id, issuedAt: r.notice.issuedAt, sites: r.sites, findings: r.findings.length,
        recipients: r.recipients.length, deliveries: r.deliveries.map((d) => ({ channel: d.channel, address: d.address, status: d.status })),
      };
    }
    case 'notify-deliveries':
      return (await parts.notifier.deliveries({ noticeId: str('noticeId') })).map((d) => ({ channel: d.channel, address: d.address, status: d.status, deliveredAt: d.deliveredAt }));
    case 'vuln-findings':
      return (await listFindings(db, { advisory: str('advisory') })).map((f) => ({ id: f.id, status: f.status, siteId: f.asset.siteId, version: f.asset.version }));
    default:
      throw new InvalidInputError(explain('cli.unknownCommand', { command }));
  }
}
