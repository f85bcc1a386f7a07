/**
 * The running EMS gateway (HEMS/BEMS controller, ERAB guideline §2.2): OpenADR 2.0b VEN in pull
 * mode towards its aggregator (R4, mutual TLS with the gateway's certificate), ECHONET Lite
 * controller towards the site's devices (R5), and in between the command guard, the safety
 * policy, the translation and the event engine.
 *
 * Data flow of a command: VTN poll reply → the gateway's VEN (src/endpoints/openadr/ven-endpoint.ts;
 * it verifies the aggregator's XML signature and hands the raw payload to its checkDistribute
 * hook) → CommandGuard (signature verdict, replay, targets) → the VEN's event handling (one event
 * record: the VEN's) → EventEngine (translation, policy, schedule) → EchonetSite (Set) → device;
 * the VEN sends the oadrCreatedEvent with one code per event, signed with the gateway's key. Telemetry: EchonetSite
 * polls the devices; the VEN samples them through GatewayReportSources at the granularity the
 * VTN asked for; reports are kept in the durable outbox until the VTN has them.
 *
 * Restarts: admission, replay state and unsent reports live in the gateway's database; at
 * start the gateway registers again (so the VTN's report requests are served), and an event
 * the VTN re-delivers with a modification already verified is resumed once — its devices were
 * returned to normal when the gateway stopped.
 *
 * Configuration: one zod schema (`gatewayConfigSchema`), loaded with loadConfig (file < env;
 * `loadConfig` takes only the ERAB_* variables that name its fields).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { scaledClock, systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { readSecretFile } from '../../core/config.js';
import { ConfigError, describeError, explain } from '../../core/errors.js';
import { issueRule } from '../../core/zod-rules.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { syslogStreamConfigSchema } from '../../security/audit/config.js';
import { gatewayOperatorSchema, watchGateway, type GatewayWatch } from './health.js';
import { EchonetController } from '../../protocols/echonet/controller.js';
import type { OadrEvent } from '../../protocols/openadr/event.js';
import type { OadrTransport } from '../../protocols/openadr/http.js';
import { OadrResponseCode } from '../../protocols/openadr/errors.js';
import type { Ven, VenDistribute, VenDistributeVerdict, VenEventAnswer, VenEventInfo } from '../../protocols/openadr/ven.js';
import { AuditLog } from '../../security/audit/log.js';
import type { AuditSink } from '../../security/audit/types.js';
import { identityFromCertificate, PARTICIPANT_ID_PATTERN } from '../../security/identity.js';
import { clientTlsOptions, loadTlsMaterial, type TlsMaterial } from '../../security/tls.js';
import type * as tls from 'node:tls';
import { WebApiClient } from '../../protocols/echonet/webapi/client.js';
import { composeMigrations, type Migration } from '../../store/migrations.js';
import { attachAll, type Attach, type Attached } from '../common/composition.js';
import { openStore, type Store } from '../../store/store.js';
import { openadrStoreMigrations } from '../../endpoints/openadr/store.js';
import { startVenEndpoint, type RunningVen } from '../../endpoints/openadr/ven-endpoint.js';
import { ADMISSION_SIGNAL_NAME, AdmissionRegistry } from './admission.js';
import { admissionSignalDecision } from '../common/admission-signal.js';
import { gatewayOperatorRoutes, quarantineDevice } from './operator-actions.js';
import { CommandGuard, type SignatureVerdict, type SignerIdentity } from './command-guard.js';
import { EchonetSite } from './echonet-site.js';
import { EventEngine, type EventAnswer, type ResourceRefusal } from './engine.js';
import {
  InventoryTracker, assetUrn, buildInventory, describeDataPoints, type DeviceDetails, type InventoryDocument,
} from './inventory.js';
import { descriptionsOf, gatewayEventOf, guardPayloadOf } from './oadr-adapter.js';
import { gatewayMigrations, loadSafeMode, saveSafeMode, SqlAdmissionStore, SqlReplayStore } from './persistence.js';
import { FailSafe, SafetyPolicy, sitePolicySchema } from './policy.js';
import { GatewayReportSources } from './telemetry.js';
import { translationConfigSchema } from './translate.js';
import { describeCommand } from './types.js';
import { httpsWitnessPost, startUpstreamWitnessing } from '../common/witnessing.js';
import { MAX_NOTICE_REPLY_BYTES, NoticeInbox, gatewayNoticeMigrations, type SiteNotice } from './notices.js';
import { GatewayUpdater } from './updater.js';
import { installRoot, readInstalledSoftware } from '../../core/software.js';
import { confirmRelease, pendingRelease } from './software-release.js';
import { SOFTWARE_REPORT_PATH, softwareDocument, type SoftwareDocument } from '../common/software-report.js';
import type { WitnessPost } from '../../security/audit/witness-client.js';

const participantId = z.string().regex(PARTICIPANT_ID_PATTERN, 'must be a participant id (letters, digits, . _ -; up to 64)');
const webApiUrl = z.url({ protocol: /^https$/, error: 'must be an https:// URL' });
/** A device the gateway admits without an operator: fields left out match anything, but an entry must name an identification number or a serial number. */
const allowListEntry = z.object({
  /** Identification number (EPC 0x83), hex. */
  identificationNumber: z.string().regex(/^[0-9A-Fa-f]{2,34}$/).optional(),
  /** Maker code (EPC 0x8A), 6 hex digits. */
  makerCode: z.string().regex(/^[0-9A-Fa-f]{6}$/).optional(),
  /** Product code (EPC 0x8C). */
  productCode: z.string().max(12).optional(),
  /** Production number (EPC 0x8D). */
  serialNumber: z.string().max(12).optional(),
  /** ECHONET Lite object (class group, class, instance), 6 hex digits, e.g. 027D01. */
  eoj: z.string().regex(/^[0-9A-Fa-f]{6}$/).optional(),
}).strict();

/** The gateway's configuration. Safe defaults: signatures required, refusing out-of-range values. */
export const gatewayConfigSchema = z.object({
  /** Participant id of the gateway (its certificate's `urn:erab:gateway:<id>`); also its venID. */
  gatewayId: participantId,
  /** Our venName at the aggregator (default: the gateway id). */
  venName: z.string().min(1).max(128).optional(),
  /** The gateway's database: an SQLite file (default) or a postgres:// URL. */
  database: z.string().min(1).default('gateway.db'),
  /**
   * SQLite durability: 'full' (default) syncs every commit to disk, so a queued report survives a
   * power cut; 'normal' (WAL) survives a crash of the process but may lose the last commits to a
   * power cut. `erab demo` uses 'normal' for large simulated fleets, where hundreds of gateways
   * share one disk that real gateways would not.
   */
  databaseSync: z.enum(['full', 'normal']).default('full'),
  /** Tamper-evident audit log directory. */
  audit: z.object({
    /** The log directory. */
    dir: z.string().min(1).default('audit'),
    /** Log identity and checkpoint key name (default derived from the gateway id). */
    origin: z.string().optional(),
    /**
     * How often the latest audit checkpoint is handed to the aggregator to be witnessed, ms; never
     * more often than telemetry (telemetry.minPeriodMs). 0 = never.
     */
    witnessIntervalMs: z.number().int().min(0).max(86_400_000).default(300_000),
  }).strict().prefault({}),
  /** Our certificate (urn:erab:gateway:<id>), its key, the CA we trust and the CA's CRL (PEM files). */
  tls: z.object({
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
    caFile: z.string().min(1),
    crlFile: z.string().min(1).optional(),
  }).strict(),
  /** Notices for the site (vulnerability countermeasures...) fetched from the aggregator (./notices.ts). */
  notices: z.object({
    /** How often to look for notices, ms; 0 = never. */
    fetchIntervalMs: z.number().int().min(0).max(86_400_000).default(60_000),
  }).strict().prefault({}),
  /** The aggregator this gateway serves (R4): where its VTN is and whose signature commands must carry. */
  aggregator: z.object({
    /** Participant id of the aggregator (its certificate's `urn:erab:aggregator:<id>`). */
    id: participantId,
    /** Base URL of the aggregator's VTN, https only. */
    vtnUrl: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }),
    /** The aggregator's certificate (PEM), whose key signs every command. */
    certificateFile: z.string().min(1),
    /** Pin the signing certificate's OpenADR fingerprint (optional, recommended). */
    fingerprint: z.string().regex(/^([0-9A-Fa-f]{2}:){9}[0-9A-Fa-f]{2}$/, 'must be an OpenADR fingerprint (10 colon-separated bytes)').optional(),
    /** The VTN's vtnID, if it must be checked. */
    vtnId: z.string().min(1).optional(),
  }).strict(),
  /** OpenADR groups this gateway belongs to (event targets by groupID). */
  groups: z.array(z.string().min(1)).default([]),
  /** The ECHONET Lite controller towards the site's devices (R5). */
  echonet: z.object({
    /** Address the controller binds (the LAN side of the gateway). */
    address: z.ipv4().default('127.0.0.1'),
    /** UDP port the controller binds (3610; 0 = ephemeral). */
    port: z.number().int().min(0).max(65535).default(3610),
    /** Device node addresses to discover by unicast. */
    devices: z.array(z.ipv4()).default([]),
    /** Discover devices by multicast too (not only the `devices` addresses). */
    multicast: z.boolean().default(false),
    /** How often each device's state and power are read, ms. */
    pollMs: z.number().int().min(200).max(3_600_000).default(10_000),
    /** How often the site is searched again for new or moved devices, ms. */
    rediscoverMs: z.number().int().min(1000).max(86_400_000).default(300_000),
    /** Wait for a device's response per attempt, real time (also under `--speed`). */
    timeoutMs: z.number().int().min(100).max(20_000).default(5000),
    /** Attempts after a request went unanswered. */
    retries: z.number().int().min(0).max(5).default(2),
    /** Requests per real second to one device node at most. */
    perNodeRate: z.number().int().min(1).max(1000).default(20),
    /** Maker code (6 hex digits) → maker-specific EPC (0xF0–0xFF) holding the firmware version. */
    firmwareEpcs: z.record(z.string().regex(/^[0-9A-Fa-f]{6}$/, 'must be a maker code of 6 hex digits'), z.number().int().min(0xf0).max(0xff)).default({}),
    /** Maker code (6 hex digits) → maker-specific EPC (0xF0–0xFF) of its firmware install command (./updater.ts). */
    firmwareInstallEpcs: z.record(z.string().regex(/^[0-9A-Fa-f]{6}$/, 'must be a maker code of 6 hex digits'), z.number().int().min(0xf0).max(0xff)).default({}),
    /**
     * Devices reached over IP beyond the home LAN through the ECHONET Lite Web API (HTTPS with
     * mutual TLS, the gateway's own certificate, profile R5; OAuth 2.0 client credentials).
     */
    webApi: z.object({
      /**
       * Web API nodes, discovered and pinned like UDP devices: a base URL (https://host:port),
       * whose server certificate must be a device certificate (urn:erab:device:<id>) from the
       * gateway's CA naming that host; or {url, id} to require the certificate of device `id`.
       */
      devices: z.array(z.union([
        webApiUrl,
        z.object({
          /** The node's base URL (https://host:port). */
          url: webApiUrl,
          /** The participant id of its device certificate (urn:erab:device:<id>). */
          id: participantId,
        }).strict(),
      ])).min(1).max(100),
      /** OAuth 2.0 client id the gateway is registered under at the nodes. */
      clientId: z.string().min(1).max(200),
      /** File holding the OAuth 2.0 client secret (never in the configuration itself). */
      clientSecretFile: z.string().min(1),
    }).strict().optional(),
  }).strict().prefault({}),
  /** Signed updates from the aggregator (./updater.ts). */
  updates: z.object({
    /** How often the aggregator's offers are fetched, ms; 0 = never. */
    checkMs: z.number().int().min(0).max(86_400_000).default(900_000),
    /** Wait after an install before the health check, ms. */
    healthCheckMs: z.number().int().min(0).max(600_000).default(5000),
    /** The managed configuration file a configuration package replaces (validated as a gateway configuration). */
    configFile: z.string().min(1).optional(),
    /**
     * Folder of the gateway's own erab releases that software packages install into
     * (releases/<version>, the `current` symlink its launcher starts, `previous`; docs/updates.md).
     */
    softwareDir: z.string().min(1).optional(),
  }).strict().prefault({}),
  policy: sitePolicySchema.prefault({}),
  translation: translationConfigSchema.prefault({}),
  /** Telemetry reported to the aggregator (OpenADR TELEMETRY_USAGE and STATUS). */
  telemetry: z.object({
    /** SI scale of reported power: none = W, k = kW. */
    powerScale: z.enum(['none', 'k']).default('none'),
    /** SI scale of reported energy: none = Wh, k = kWh. */
    energyScale: z.enum(['none', 'k']).default('none'),
    /** Fastest sampling we offer in METADATA (the VTN requests at most this often). */
    minPeriodMs: z.number().int().min(1000).default(60_000),
    /** Slowest sampling we offer in METADATA, ms. */
    maxPeriodMs: z.number().int().min(1000).default(3_600_000),
    /** Grid of the site (east Japan 50 Hz, west 60 Hz) and voltage, for powerReal attributes. */
    gridHz: z.union([z.literal(50), z.literal(60)]).default(50),
    /** Nominal voltage of the site, V (100 or 200). */
    voltage: z.union([z.literal(100), z.literal(200)]).default(100),
  }).strict().prefault({}),
  /** Which devices are admitted at once; any other device found is held pending until an operator admits it. */
  admission: z.object({ allowList: z.array(allowListEntry).default([]) }).strict().prefault({}),
  /** Freshness of signed commands. */
  security: z.object({
    /** Largest difference between a command's signature timestamp and our clock. */
    maxClockSkewMs: z.number().int().min(1000).max(3_600_000).default(300_000),
  }).strict().prefault({}),
  /** The event engine that turns active events into device commands. */
  engine: z.object({
    /** How often active events are re-evaluated (start, end, ramps), ms. */
    tickMs: z.number().int().min(100).max(60_000).default(5000),
    /** Longest x-eiRampUp honoured (devices start this long before an event at most), ms. */
    maxRampUpMs: z.number().int().min(0).max(3_600_000).default(900_000),
  }).strict().prefault({}),
  /** Health and metrics listener (mutual TLS, operator certificates); see health.ts. */
  operator: gatewayOperatorSchema.optional(),
  /** Stream security events to a syslog collector over mutual TLS (RFC 5425). */
  syslog: syslogStreamConfigSchema.optional(),
}).strict();
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

/**
 * The health check of a configuration update: the new file must be a valid configuration of this
 * same gateway (the refusal names the first problem, in both languages).
 */
export function validateManagedConfig(text: string, gatewayId: string): void {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(explain('config.newConfigNotJson', { why: describeError(err) }));
  }
  const r = gatewayConfigSchema.safeParse(json, { reportInput: true });
  if (!r.success) {
    const i = r.error.issues[0]!;
    const rule = issueRule(i);
    throw new ConfigError(explain('config.newConfigField', { path: i.path.join('.') || '(root)', rule: rule.en, ruleJa: rule.ja }));
  }
  if (r.data.gatewayId !== gatewayId) throw new ConfigError(explain('config.newConfigOtherGateway', { found: r.data.gatewayId, expected: gatewayId }));
}

/** What `Gateway.status()` reports. */
export interface GatewayStatus {
  gatewayId: string;
  registered: boolean;
  aggregatorReachable: boolean;
  lastContact: number;
  devices: {
    deviceId: string; class: string; address: string; eoj: string; admission: string;
    online: boolean; mode?: string | undefined; powerW?: number | undefined; socPercent?: number | undefined; command?: string | undefined;
  }[];
  events: Record<string, string>;
  pendingReports: number;
  inventoryDigest?: string | undefined;
}

/**
 * A clock running `speed` times faster than real time (timers scaled down), for demos that
 * play a 30-minute event in a minute. Production runs at speed 1 (the system clock).
 */
export function acceleratedClock(speed: number): Clock {
  if (!(speed >= 1) || speed > 10_000) throw new ConfigError(explain('config.speedRange', { speed }));
  const realStart = Date.now();
  return scaledClock({ speed, realAnchor: realStart, simAnchor: realStart });
}

/** What a caller (CLI, tests, the demo) may inject. */
export interface GatewayDeps {
  clock?: Clock | undefined;
  /** Default: the tamper-evident AuditLog in `config.audit.dir`. */
  audit?: AuditSink | undefined;
  logger?: Logger | undefined;
  /** Wraps the HTTPS transport to the VTN (tests: observe or tamper with the wire). */
  wrapTransport?: ((t: OadrTransport) => OadrTransport) | undefined;
  random?: (() => number) | undefined;
  /** Migrations of modules above the role that keep tables in the gateway's store (secops detection). */
  extraMigrations?: readonly Migration[] | undefined;
  /** Modules above the role (secops detection) attach once the gateway runs (src/roles/common/composition.ts). */
  attach?: readonly Attach[] | undefined;
  /**
   * A signed software package made a new erab release current (`updates.softwareDir`): restart
   * into it (`erab gateway run` stops and exits with code 75 so its launcher starts `current`).
   */
  onSoftwareSwitched?: ((version: string) => void) | undefined;
}

/** The parts a gateway is assembled from (see Gateway.start). */
interface GatewayParts {
  config: GatewayConfig;
  clock: Clock;
  audit: AuditSink;
  ownAudit: AuditLog | undefined;
  log: Logger;
  store: Store;
  admission: AdmissionRegistry;
  admissionStore: SqlAdmissionStore;
  replayStore: SqlReplayStore;
  controller: EchonetController;
  site: EchonetSite;
  policy: SafetyPolicy;
  failSafe: FailSafe;
  engine: EventEngine;
  guard: CommandGuard;
  sources: GatewayReportSources;
  /** The aggregator as its certificate names it (the signer every command must have). */
  aggregator: { role: string; id: string };
}

/**
 * A running gateway. Start with `Gateway.start(config)`; stop with `close()`, which returns
 * every device an event controls to its owner's normal mode first.
 */
export class Gateway {
  private readonly timers: TimerHandle[] = [];
  private readonly closers: (() => void)[] = [];
  private readonly tracker = new InventoryTracker();
  /** Who signed the distribute whose events the VEN is handing us (set by checkDistribute). */
  private signerId: string | undefined;
  private closed = false;
  private inventoryBusy = false;

  readonly config: GatewayConfig;
  readonly audit: AuditSink;
  readonly admission: AdmissionRegistry;
  readonly site: EchonetSite;
  readonly policy: SafetyPolicy;
  readonly failSafe: FailSafe;
  readonly engine: EventEngine;
  readonly guard: CommandGuard;
  private readonly clock: Clock;
  private readonly ownAudit: AuditLog | undefined;
  private readonly log: Logger;
  private readonly store: Store;
  private readonly admissionStore: SqlAdmissionStore;
  private readonly replayStore: SqlReplayStore;
  private readonly controller: EchonetController;
  private readonly sources: GatewayReportSources;
  private readonly aggregator: { role: string; id: string };
  private endpoint: RunningVen | undefined;
  private witnessingRef: ReturnType<typeof startUpstreamWitnessing> | undefined;
  private attached: Attached | undefined;
  private noticeInbox: { inbox: NoticeInbox; close(): void } | undefined;
  private updaterRef: GatewayUpdater | undefined;
  private watch: GatewayWatch | undefined;
  /** This process's own software (erab, Node.js, npm packages) and the digest the aggregator acknowledged. */
  private software: { doc?: SoftwareDocument; acked?: string; post?: WitnessPost } = {};

  private constructor(p: GatewayParts) {
    this.config = p.config;
    this.audit = p.audit;
    this.admission = p.admission;
    this.site = p.site;
    this.policy = p.policy;
    this.failSafe = p.failSafe;
    this.engine = p.engine;
    this.guard = p.guard;
    this.clock = p.clock;
    this.ownAudit = p.ownAudit;
    this.log = p.log;
    this.store = p.store;
    this.admissionStore = p.admissionStore;
    this.replayStore = p.replayStore;
    this.controller = p.controller;
    this.sources = p.sources;
    this.aggregator = p.aggregator;
  }

  /** Our audit checkpoints' witnessing by the aggregator (when the gateway keeps its own audit log). */
  get witnessing(): ReturnType<typeof startUpstreamWitnessing>['witnessing'] | undefined {
    return this.witnessingRef?.witnessing;
  }

  /** Signed updates from the aggregator (offers, verification, apply, rollback). */
  get updater(): GatewayUpdater {
    return this.updaterRef!;
  }

  /** The OpenADR VEN (registration, polling, reports). */
  get ven(): Ven {
    return this.endpoint!.ven;
  }

  private get venRef(): Ven | undefined {
    return this.endpoint?.ven;
  }

  /**
   * Starts the gateway: opens its database and audit log, discovers the devices, registers with
   * the aggregator's VTN and starts polling.
   * @example
   *   const gw = await Gateway.start(loadConfig(gatewayConfigSchema, { file: 'gateway.json' }));
   */
  static async start(config: GatewayConfig, deps: GatewayDeps = {}): Promise<Gateway> {
    const clock = deps.clock ?? systemClock;
    const log = deps.logger ?? silentLogger;
    const material = await loadTlsMaterial(config.tls);
    const me = material.credentials[0]!.identity;
    if (me.role !== 'gateway' || me.id !== config.gatewayId) {
      throw new ConfigError(explain('config.certIssuedTo', { field: 'tls.certFile', file: config.tls.certFile, role: me.role, id: me.id, expected: `gateway:${config.gatewayId}` }));
    }
    let aggPem: string;
    try {
      aggPem = readFileSync(config.aggregator.certificateFile, 'utf8');
    } catch (err) {
      throw new ConfigError(explain('config.certUnreadable', { field: 'aggregator.certificateFile', file: config.aggregator.certificateFile, why: describeError(err) }));
    }
    const agg = identityFromCertificate(aggPem);
    if (agg.role !== 'aggregator' || agg.id !== config.aggregator.id) {
      throw new ConfigError(explain('config.peerCertIssuedTo', { field: 'aggregator.certificateFile', role: agg.role, id: agg.id, expected: `aggregator:${config.aggregator.id}` }));
    }
    const ownAudit = deps.audit ? undefined : AuditLog.open({ dir: config.audit.dir, origin: config.audit.origin ?? `erab/gateway-${config.gatewayId}/audit`, clock });
    const audit = deps.audit ?? ownAudit!;
    const store = await openStore({ url: config.database, migrations: composeMigrations(openadrStoreMigrations, gatewayMigrations, gatewayNoticeMigrations, deps.extraMigrations ?? []), sqlite: { synchronous: config.databaseSync } });
    const cleanup: (() => Promise<void> | void)[] = [() => store.close(), () => ownAudit?.close()];
    try {
      const admissionStore = await SqlAdmissionStore.open(store, () => clock.now());
      const admission = new AdmissionRegistry(admissionStore, clock, audit, { allowList: config.admission.allowList });
      const replayStore = await SqlReplayStore.open(store, clock.now());
      const controller = await EchonetController.start({
        address: config.echonet.address, port: config.echonet.port, multicast: config.echonet.multicast ? {} : false,
        clock, audit, timeoutMs: config.echonet.timeoutMs, retries: config.echonet.retries, perNodeRate: config.echonet.perNodeRate,
      });
      cleanup.unshift(() => controller.close());
      const wa = config.echonet.webApi;
      const webApi = wa ? new WebApiClient({
        tls: webApiTls(material, wa.devices, audit), clientId: wa.clientId, clientSecret: readSecretFile(wa.clientSecretFile, 'echonet.webApi.clientSecretFile'), clock,
      }) : undefined;
      if (webApi) cleanup.unshift(() => webApi.close());
      const site = new EchonetSite({ controller, admission, clock, addresses: [...config.echonet.devices, ...(wa?.devices ?? []).map(webApiDeviceUrl)], firmwareEpcs: config.echonet.firmwareEpcs, logger: log, audit, webApi });
      const policy = new SafetyPolicy(config.policy, clock);
      const failSafe = new FailSafe(config.policy.failSafe, clock);
      const engine = new EventEngine({ clock, policy, failSafe, devices: site, port: site, audit, translation: config.translation, tickMs: config.engine.tickMs, maxRampUpMs: config.engine.maxRampUpMs, logger: log });
      cleanup.unshift(() => engine.close());
      const safeMode = await loadSafeMode(store);
      if (safeMode) engine.resumeSafeMode(safeMode);
      const guard = new CommandGuard(
        {
          venId: config.gatewayId,
          aggregator: { id: config.aggregator.id, fingerprint: config.aggregator.fingerprint, vtnId: config.aggregator.vtnId },
          groupIds: config.groups,
          maxClockSkewMs: config.security.maxClockSkewMs,
        },
        // Every distribute comes through the VEN, which verifies its signature against aggPem and
        // passes the verdict with the payload (GuardPayload.signature); nothing else reaches the guard.
        { verify: () => ({ ok: false, kind: 'invalid', reason: 'payload did not come through the VEN' }) }, replayStore, clock, audit,
      );
      const sources = new GatewayReportSources({
        reading: (id) => {
          const r = admission.isControllable(id) ? site.reading(id) : undefined;
          return r ? { ...r, manualOverride: engine.manualOverride(id) } : undefined;
        },
        activeCommand: (id) => engine.activeCommand(id),
        normalOf: (id) => engine.normalOf(id),
      }, { powerScale: config.telemetry.powerScale, energyScale: config.telemetry.energyScale });
      const gw = new Gateway({
        config, clock, audit, ownAudit, log, store, admission, admissionStore, replayStore, controller, site, policy, failSafe, engine, guard, sources,
        aggregator: { role: agg.role, id: agg.id },
      });

      await site.discover();
      await site.poll();
      gw.refreshDescriptions();

      // The VEN, assembled like every other (src/endpoints/openadr): registration at every start
      // (so the VTN's report requests are served again after a restart), durable outbox and
      // nonces in the gateway's store, every exchange feeding the fail-safe.
      const endpoint = await startVenEndpoint({
        venName: config.venName ?? config.gatewayId,
        vtnUrl: config.aggregator.vtnUrl, material, profile: 'R4', expectVtn: { role: 'aggregator', id: config.aggregator.id },
        audit, timeoutMs: 20_000, store, scope: config.gatewayId, persistRegistration: false, clock,
        xmlSignature: true, vtnCertificatePem: aggPem,
        ...(deps.wrapTransport ? { wrapTransport: deps.wrapTransport } : {}),
        onContact: () => failSafe.contact(),
        autoStart: false,
        ven: {
          venID: config.gatewayId,
          ...(deps.random ? { random: deps.random } : {}),
          // Events are checked by the command guard (signature required, through checkDistribute);
          // other payloads are verified when signed.
          signatureMode: 'optional',
          signatureWindowMs: config.security.maxClockSkewMs,
          reports: sources.list(),
          backoff: { initialMs: Math.min(5000, config.echonet.pollMs), maxMs: 60_000 },
          checkDistribute: (d) => gw.checkDistribute(d),
          onEvent: (info) => gw.onEvent(info),
          onEventCancelled: (eventID, explicit) => {
            engine.cancelEvent(eventID, explicit ? 'event cancelled' : 'no longer listed by the aggregator (implicit cancellation)');
          },
          onRegistered: () => {
            gw.tracker.acknowledge(gw.inventory());
            void gw.uploadSoftware();
            audit.append({ actor: { kind: 'system', id: config.gatewayId }, action: 'gateway.registered', target: config.aggregator.vtnUrl, outcome: 'success' });
          },
        },
      });
      gw.endpoint = endpoint;
      cleanup.unshift(() => endpoint.close());
      gw.every(config.echonet.pollMs, () => gw.pollDevices());
      gw.every(config.echonet.rediscoverMs, () => gw.rediscover());
      await endpoint.start();
      const tls = endpoint.tls!;
      const auditLog = ownAudit ?? (deps.audit instanceof AuditLog ? deps.audit : undefined);
      if (auditLog && config.audit.witnessIntervalMs > 0) {
        gw.witnessingRef = startUpstreamWitnessing({
          log: auditLog, witness: `aggregator-${config.aggregator.id}`, baseUrl: config.aggregator.vtnUrl, tls,
          intervalMs: Math.max(config.audit.witnessIntervalMs, config.telemetry.minPeriodMs), clock,
          onLog: (msg, fields) => log.warn(fields ?? {}, msg),
        });
        cleanup.unshift(() => gw.witnessingRef?.stop());
      }
      if (config.notices.fetchIntervalMs > 0) {
        // Notices come over the R4 connection's TLS settings, from the aggregator's listener.
        const transport = httpsWitnessPost(config.aggregator.vtnUrl, tls, 15_000, MAX_NOTICE_REPLY_BYTES);
        const inbox = new NoticeInbox(store, {
          gatewayId: config.gatewayId, post: transport.post, audit, clock, intervalMs: config.notices.fetchIntervalMs,
          onLog: (msg, fields) => log.warn(fields ?? {}, msg),
        });
        gw.noticeInbox = { inbox, close: () => transport.close() };
        cleanup.unshift(async () => { await inbox.stop(); transport.close(); });
        inbox.start();
      }
      // Update offers come over the same mutual TLS as the VEN's polls (src/endpoints/openadr/update-offers.ts).
      const updatesTransport = httpsWitnessPost(config.aggregator.vtnUrl, tls, 60_000, 17 * 1024 * 1024);
      // Our own software goes to the aggregator with the inventory (src/roles/common/software-report.ts),
      // read from the installation this process runs from.
      gw.software.post = updatesTransport.post;
      try {
        gw.software.doc = softwareDocument(config.gatewayId, await readInstalledSoftware(installRoot(), 'gateway'));
      } catch (err) {
        log.warn({ err: describeError(err) }, 'own software not readable; it is not reported to the aggregator');
      }
      const softwareDir = config.updates.softwareDir;
      const running = gw.software.doc?.erab.version;
      if (softwareDir && running !== undefined) {
        // A release switched to before our restart is confirmed once it is what runs.
        const pending = pendingRelease(softwareDir);
        const outcome = confirmRelease(softwareDir, running);
        if (outcome !== 'none') {
          audit.append({
            actor: { kind: 'system', id: config.gatewayId }, action: outcome === 'confirmed' ? 'gateway.update.confirmed' : 'gateway.update.not_running',
            target: `software:${softwareDir}`, outcome: outcome === 'confirmed' ? 'success' : 'failure', details: { pending: pending?.version ?? null, running },
          });
        }
      }
      cleanup.unshift(() => updatesTransport.close());
      gw.updaterRef = new GatewayUpdater({
        gatewayId: config.gatewayId, aggregatorId: config.aggregator.id, material, post: updatesTransport.post, site, audit, clock,
        installEpcs: config.echonet.firmwareInstallEpcs, healthCheckMs: config.updates.healthCheckMs, configFile: config.updates.configFile,
        validateConfig: (text) => validateManagedConfig(text, config.gatewayId), onApplied: () => gw.syncInventory(), logger: log,
        softwareDir, softwareVersion: running,
        onSoftwareSwitched: (version) => {
          log.warn({ version }, 'a new erab release is current; restarting into it');
          deps.onSoftwareSwitched?.(version);
        },
      });
      gw.closers.push(() => updatesTransport.close());
      if (gw.venRef?.registration) void gw.uploadSoftware();
      if (config.updates.checkMs > 0) gw.every(config.updates.checkMs, async () => { await gw.updaterRef?.check(); });
      gw.watch = await watchGateway({
        registered: () => gw.venRef?.registration !== undefined,
        aggregatorReachable: () => !gw.failSafe.unreachable(),
        devices: () => gw.admission.list().map((r) => ({ admission: r.state, online: gw.site.reading(r.deviceId)?.online ?? false })),
      }, { id: config.gatewayId, audit, material, logger: log, store, operator: config.operator, syslog: config.syslog, routes: gatewayOperatorRoutes({
        engine, admission, persistSafeMode: (state) => saveSafeMode(store, state),
        online: (id) => gw.site.reading(id)?.online ?? false, inventoryChanged: () => gw.syncInventory(),
        identify: (address) => site.identify(address),
      }) });
      cleanup.unshift(() => gw.watch?.close());
      if (deps.attach?.length) {
        gw.attached = await attachAll(deps.attach, {
          role: 'gateway', id: config.gatewayId, store, audit, auditLog, clock,
          log: (msg, fields, level) => log[level ?? 'info'](fields ?? {}, msg),
          onDeliverySample: () => () => {}, // the gateway's closed loop is per device (EventEngine), not sampled here
        });
        const attached = gw.attached;
        cleanup.unshift(() => attached.stop());
      }
      audit.append({ actor: { kind: 'system', id: config.gatewayId }, action: 'gateway.start', outcome: 'success', details: { devices: site.resources().size, vtn: config.aggregator.vtnUrl } });
      return gw;
    } catch (err) {
      for (const c of cleanup) await Promise.resolve(c()).catch(() => {});
      throw err;
    }
  }

  /** Where health and metrics are served (`operator` in the configuration), if anywhere. */
  get operatorUrl(): string | undefined {
    return this.watch?.operator?.url;
  }

  /** The current inventory document (every known device, admitted or not). */
  inventory(): InventoryDocument {
    const details = new Map<string, DeviceDetails>();
    for (const r of this.admission.list()) details.set(r.deviceId, this.site.details(r.deviceId) ?? {});
    return buildInventory({ gatewayId: this.config.gatewayId, venId: this.config.gatewayId }, this.admission.list(), details, this.clock.now());
  }

  /** A snapshot for operators and supervisors: registration, devices, events, buffered reports. */
  async status(): Promise<GatewayStatus> {
    return {
      gatewayId: this.config.gatewayId,
      registered: this.venRef?.registration !== undefined,
      aggregatorReachable: !this.failSafe.unreachable(),
      lastContact: this.failSafe.lastContactAt(),
      devices: this.admission.list().map((r) => {
        const reading = this.site.reading(r.deviceId);
        const active = this.engine.activeCommand(r.deviceId);
        return {
          deviceId: r.deviceId, class: r.class, address: r.address, eoj: r.eoj, admission: r.state,
          online: reading?.online ?? false, mode: reading?.mode, powerW: reading?.powerW, socPercent: reading?.socPercent,
          command: active ? describeCommand(active) : undefined,
        };
      }),
      events: this.engine.eventPhases(),
      pendingReports: await this.endpoint!.outbox.size(),
      inventoryDigest: this.tracker.acknowledgedDigest(),
    };
  }

  /** Notices from the aggregator for the site's EMS to show, newest first. */
  notices(limit = 100): Promise<SiteNotice[]> {
    return this.noticeInbox ? this.noticeInbox.inbox.list(limit) : Promise.resolve([]);
  }

  /** Reports waiting on disk for the aggregator (the VEN's durable outbox). */
  pendingReports(): Promise<number> {
    return this.endpoint!.outbox.size();
  }

  /** Stops: every controlled device back to normal, VEN stopped, sockets and files closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) t.cancel();
    this.engine.close();
    await this.engine.idle();
    this.witnessingRef?.stop();
    await this.noticeInbox?.inbox.stop();
    this.noticeInbox?.close();
    for (const c of this.closers) c();
    await this.watch?.close();
    await this.endpoint?.close();
    await this.admissionStore.flush().catch(() => {});
    await this.replayStore.flush().catch(() => {});
    await this.controller.close();
    await this.attached?.stop().catch((e: unknown) => this.log.warn({ error: describeError(e) }, 'an attached module did not stop cleanly'));
    this.audit.append({ actor: { kind: 'system', id: this.config.gatewayId }, action: 'gateway.stop', outcome: 'success' });
    await this.store.close();
    this.ownAudit?.close();
  }

  // ------------------------------------------------------------------ internals

  /** Runs `fn` every `ms` (after the previous run finished); one live timer per task. */
  private every(ms: number, fn: () => Promise<void>): void {
    const slot = this.timers.length;
    const run = (): void => {
      if (this.closed) return;
      fn().catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'gateway task failed')).finally(() => {
        if (!this.closed) this.timers[slot] = this.clock.setTimeout(run, ms);
      });
    };
    this.timers.push(this.clock.setTimeout(run, ms));
  }

  private async pollDevices(): Promise<void> {
    await this.site.poll();
    await this.syncInventory();
  }

  private async rediscover(): Promise<void> {
    await this.site.discover();
    await this.syncInventory();
  }

  /** Sets the METADATA descriptions from the current inventory; returns the document. */
  private refreshDescriptions(): InventoryDocument {
    const doc = this.inventory();
    const assets = new Map(doc.devices.map((d) => [d.resourceId, assetUrn(d)]));
    const t = this.config.telemetry;
    this.sources.setDescriptions(descriptionsOf(
      describeDataPoints(this.admission.list().map((r) => ({ deviceId: r.deviceId, class: r.class }))),
      assets,
      { hertz: t.gridHz, voltage: t.voltage, ac: true },
      { min: t.minPeriodMs, max: t.maxPeriodMs },
      { power: t.powerScale, energy: t.energyScale },
    ));
    return doc;
  }

  /**
   * Keeps the aggregator's copy of the inventory current: when the inventory changed (a device
   * appeared, was admitted, quarantined...), the METADATA reports are registered again.
   */
  private async syncInventory(): Promise<void> {
    await this.admissionStore.flush();
    const ven = this.venRef;
    if (this.inventoryBusy || !ven?.registration) return;
    await this.uploadSoftware();
    const current = this.inventory();
    if (!this.tracker.needsUpload(current)) return;
    this.inventoryBusy = true;
    try {
      const doc = this.refreshDescriptions();
      await ven.register();
      this.tracker.acknowledge(doc);
      this.audit.append({
        actor: { kind: 'system', id: this.config.gatewayId }, action: 'gateway.inventory.upload', target: this.config.aggregator.id,
        outcome: 'success', details: { digest: doc.digest, devices: doc.devices.length },
      });
    } finally {
      this.inventoryBusy = false;
    }
  }

  /** Sends our software report when the aggregator has not acknowledged this digest yet. */
  private async uploadSoftware(): Promise<void> {
    const { doc, acked, post } = this.software;
    if (!doc || !post || acked === doc.digest || this.closed) return;
    const reply = await post(SOFTWARE_REPORT_PATH, JSON.stringify(doc)).catch((err: unknown) => ({ status: 0, body: describeError(err) }));
    const ok = reply.status === 200;
    if (ok) this.software.acked = doc.digest;
    this.audit.append({
      actor: { kind: 'system', id: this.config.gatewayId }, action: 'gateway.software.upload', target: this.config.aggregator.id,
      outcome: ok ? 'success' : 'failure', ...(ok ? {} : { reason: `HTTP ${reply.status}: ${reply.body.slice(0, 300)}` }),
      details: { digest: doc.digest, erab: doc.erab.version, node: doc.node, packages: doc.packages.length },
    });
  }

  /**
   * The VEN's checkDistribute hook: the command guard decides on every oadrDistributeEvent
   * (signature verdict from the VEN, replay, targets) before the VEN's event handling sees it.
   */
  private async checkDistribute(d: VenDistribute): Promise<VenDistributeVerdict> {
    const signature: SignatureVerdict = d.signature.ok
      ? { ok: true, signer: { fingerprint: d.signature.fingerprint, role: this.aggregator.role, id: this.aggregator.id } satisfies SignerIdentity, replayProtect: { nonce: d.signature.nonce, timestamp: d.signature.timestamp } }
      : d.signature;
    const result = await this.guard.check({ ...guardPayloadOf(d.rawXml, d.message), signature }, this.site.resources());
    await this.replayStore.flush();
    this.signerId = result.ok ? result.signer.id : undefined;
    return {
      ok: result.ok,
      events: result.events.map((v) => (v.verdict === 'refuse' ? { verdict: 'refuse', code: v.code, reason: v.reason } : { verdict: v.verdict })),
    };
  }

  /** The VEN's onEvent: an event the guard let through, new or modified (or verified before a restart). */
  private async onEvent(info: VenEventInfo): Promise<VenEventAnswer> {
    const ev = info.event;
    const eventID = ev.descriptor.eventID;
    const admission = ev.signals.some((s) => s.signalName === ADMISSION_SIGNAL_NAME);
    if (info.redelivered) {
      // A modification verified before the gateway restarted (its devices were restored at
      // shutdown): resume it, once; no answer goes back.
      if (admission) return { optType: 'optIn' };
      const resumed = this.engine.accept(gatewayEventOf(ev));
      this.audit.append({
        actor: { kind: 'system', id: this.config.gatewayId }, action: 'gateway.event.resumed', target: eventID,
        outcome: resumed.optType === 'optIn' ? 'success' : 'refused', reason: resumed.description,
        details: { modificationNumber: ev.descriptor.modificationNumber },
      });
      return { optType: resumed.optType };
    }
    const answer = admission ? await this.admissionDecision(ev, this.signerId) : this.engine.accept(gatewayEventOf(ev));
    const refused = answer.refused ?? [];
    return {
      optType: answer.optType,
      responseCode: answer.code,
      ...(answer.description !== undefined ? { responseDescription: answer.description } : {}),
      // After the oadrCreatedEvent, so the VTN already holds our answer to the event as a whole.
      ...(answer.optType === 'optIn' && refused.length > 0 ? { afterReply: () => this.optOutResources([{ ev, refused }]) } : {}),
    };
  }

  /**
   * Opts each refused resource of a partly accepted event out on its own (OpenADR 2.0b EiOpt:
   * oadrCreateOpt with the event's qualifiedEventID, eiTarget/resourceID and the reason), so the
   * aggregator counts its share as a shortfall and re-dispatches it.
   */
  private async optOutResources(partial: readonly { ev: OadrEvent; refused: readonly ResourceRefusal[] }[]): Promise<void> {
    const ven = this.venRef;
    if (!ven?.registration) return;
    for (const { ev, refused } of partial) {
      const qualifiedEventID = { eventID: ev.descriptor.eventID, modificationNumber: ev.descriptor.modificationNumber };
      for (const r of refused) {
        let outcome: 'success' | 'failure' = 'success';
        let why = r.reason;
        try {
          await ven.createOpt({ optType: 'optOut', optReason: r.optReason, target: { resourceID: [r.resourceID] }, qualifiedEventID, marketContext: ev.descriptor.marketContext });
        } catch (err) {
          outcome = 'failure';
          why = `oadrCreateOpt not delivered: ${describeError(err)}`;
          this.log.warn({ err: describeError(err), eventID: qualifiedEventID.eventID, resource: r.resourceID }, 'per-resource opt out not delivered');
        }
        this.audit.append({
          actor: { kind: 'system', id: this.config.gatewayId }, action: 'gateway.opt_out', target: r.resourceID, outcome, reason: why,
          details: { ...qualifiedEventID, optReason: r.optReason, code: r.code },
        });
      }
    }
  }

  /**
   * An operator's admission decision carried by a signed event (see admission.ts and
   * src/roles/common/admission-signal.ts): admit (or release) at a revision, reject, or
   * quarantine. A rejected or quarantined device goes back to its owner's mode first, as the
   * gateway's own operator routes do it (operator-actions.ts).
   */
  private async admissionDecision(ev: OadrEvent, signerId: string | undefined): Promise<EventAnswer> {
    if (ev.signals.some((s) => s.signalName !== ADMISSION_SIGNAL_NAME)) {
      return { code: OadrResponseCode.INVALID_DATA, optType: 'optOut', description: 'an admission decision cannot be mixed with other signals' };
    }
    const by = `aggregator:${signerId ?? this.config.aggregator.id}`;
    const eventID = ev.descriptor.eventID;
    const problems: string[] = [];
    for (const s of ev.signals) {
      const ids = s.target?.resourceID ?? ev.target.resourceID ?? [];
      const decision = admissionSignalDecision(s.intervals[0]?.value);
      if (ids.length === 0 || decision === undefined) {
        problems.push('admission needs a resourceID target and a value: a revision ≥ 1 to admit, 0 to reject, -1 to quarantine');
        continue;
      }
      for (const id of ids) {
        if (decision === 'quarantine') {
          const q = await quarantineDevice(this.engine, this.admission, id, by, `decided at the aggregator (event ${eventID})`);
          if (!q) problems.push(`${id}: unknown device`);
          continue;
        }
        if (decision === 'reject' && this.admission.get(id)) {
          this.engine.releaseToOwner(id, `rejected by ${by} (event ${eventID})`);
          await this.engine.idle();
        }
        const r = decision === 'reject' ? this.admission.reject(id, by) : this.admission.admit(id, decision.admit, by);
        if (!r.ok) problems.push(`${id}: ${r.reason}`);
      }
    }
    void this.syncInventory().catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'inventory upload failed'));
    return problems.length === 0
      ? { code: OadrResponseCode.OK, optType: 'optIn', description: 'admission decision applied' }
      : { code: OadrResponseCode.INVALID_ID, optType: 'optOut', description: problems.join('; ') };
  }
}

type WebApiDevice = string | { url: string; id: string };
const webApiDeviceUrl = (d: WebApiDevice): string => (typeof d === 'string' ? d : d.url);

/**
 * The gateway's TLS options towards each Web API node (R5): its own certificate, and the node's
 * server certificate must be a device certificate (`device:<id>` when the configuration names
 * the id) from the gateway's CA naming the node's host. One options object per node.
 */
function webApiTls(material: TlsMaterial, devices: readonly WebApiDevice[], audit: AuditSink): (address: string) => tls.ConnectionOptions {
  const ids = new Map(devices.map((d) => [webApiDeviceUrl(d), typeof d === 'string' ? undefined : d.id]));
  const byAddress = new Map<string, tls.ConnectionOptions>();
  return (address) => {
    let o = byAddress.get(address);
    if (!o) {
      const id = ids.get(address);
      o = clientTlsOptions(material, 'R5', { audit, expect: { role: 'device', ...(id ? { id } : {}) } });
      byAddress.set(address, o);
    }
    return o;
  };
}

