/**
 * The running aggregator's configuration: one zod schema, loaded with `loadConfig`
 * (defaults < JSON file < ERAB_* environment). Security is on by default: every listener needs
 * an allow-list, every upstream party an expected server identity, and large operator commands
 * a second operator (自家用GL 7-1-2).
 *
 * @example
 *   const cfg = loadAggregatorConfig('aggregator.json');
 *   const agg = await startAggregator(cfg);
 */
import { z } from 'zod';
import { operatorRolesSchema } from '../../common/operator-roles.js';
import { retentionPolicySchema } from '../../../store/retention.js';
import { configIssueLines, loadConfig } from '../../../core/config.js';
import { ConfigError, explain } from '../../../core/errors.js';
import { syslogStreamConfigSchema } from '../../../security/audit/config.js';
import { detectionConfigSchema } from '../../common/detection-config.js';
import { PARTICIPANT_ID_PATTERN, PARTICIPANT_ROLES } from '../../../security/identity.js';

const participantId = z.string().regex(PARTICIPANT_ID_PATTERN, 'must be 1-64 letters, digits, . _ - (a participant id)');
const file = z.string().min(1, 'must name a file');
const port = z.number().int().min(0).max(65535);

/** Our certificate, key, the CA(s) we trust and the CA's CRL. */
export const tlsFilesSchema = z.object({
  /** Our certificate (PEM). */
  certFile: file,
  /** Its private key (PEM, mode 0600). */
  keyFile: file,
  /** The CA certificate(s) we trust for peers (PEM). */
  caFile: file,
  /** The CA's CRL (PEM), reloaded when it changes; a revoked peer is refused. */
  crlFile: file.optional(),
}).strict();
export type TlsFilesConfig = z.output<typeof tlsFilesSchema>;

/** Which peers a listener admits (see src/security/allow-list.ts); an empty list admits nobody. */
export const allowListSchema = z.object({
  /** Admit these certificates: OpenADR 10-byte or full SHA-256 fingerprints, with or without colons. */
  fingerprints: z.array(z.string().min(1)).optional(),
  /** Admit these participants, as `<role>:<id>` (e.g. `aggregator:AGG1`). */
  participants: z.array(z.string().min(1)).optional(),
  /** Roles admitted: restricts the entries above, or on its own admits every certified peer of these roles. */
  roles: z.array(z.enum(PARTICIPANT_ROLES)).optional(),
  /** Admit every peer our CA certified; must be written out (an empty allow-list admits nobody). */
  anyCertifiedPeer: z.boolean().optional(),
}).strict();

/**
 * One upstream party (R1 TSO simple dispatch system, R2 retailer, R3 aggregation coordinator):
 * our VEN registers with its VTN, presenting its own client certificate when given (one
 * certificate per relationship, so revoking one does not cut the others).
 */
export const upstreamPartySchema = z.object({
  /** Short name used in logs, status and the operator's view, e.g. "tso-tokyo". */
  name: participantId,
  /** What the party is: TSO (R1), retailer (R2) or aggregation coordinator (R3). */
  kind: z.enum(['tso', 'retailer', 'coordinator']),
  /** Base URL of the party's VTN, e.g. https://127.0.0.1:8443 (the /OpenADR2/Simple/2.0b/... paths are appended). */
  vtnUrl: z.url({ protocol: /^https$/, error: 'must be an https:// URL (OpenADR 2.0b over mutual TLS)' }),
  /** The server identity we must reach: role and participant id in its certificate, optionally its fingerprint. */
  expect: z.object({
    /** Role in its server certificate. */
    role: z.enum(['tso', 'retailer', 'aggregator']),
    /** Participant id in its server certificate. */
    id: participantId,
    /** Pin its certificate too (OpenADR fingerprint). */
    fingerprint: z.string().optional(),
  }).strict(),
  /** Our venName at this party (default: our id). */
  venName: z.string().min(1).max(128).optional(),
  /** Client certificate for this party; default: the aggregator's own `tls` certificate. */
  tls: z.object({ certFile: file, keyFile: file }).strict().optional(),
  /** Shortest TELEMETRY_USAGE period we offer (METADATA samplingRate minPeriod), ms; the party's report request picks its own ≥ this. */
  reportMinPeriodMs: z.number().int().min(100).max(3_600_000).default(60_000),
  /** How often to poll the VTN (pull mode), ms. */
  pollIntervalMs: z.number().int().min(50).max(3_600_000).default(10_000),
  /** Market contexts (programs) we accept from this party; empty = any. */
  marketContexts: z.array(z.string().min(1)).default([]),
  /** Portfolio pools (TSO area × product × program) whose resources answer this party; empty = all. */
  pools: z.array(z.string().min(1)).default([]),
  /** Resource classes offered to this party's events; empty = all. */
  resourceClasses: z.array(z.enum(['battery', 'ev', 'pv', 'load', 'water_heater', 'other'])).default([]),
}).strict();
export type UpstreamPartyConfig = z.output<typeof upstreamPartySchema>;

/** Two-person rule thresholds (自家用GL 7-1-2: critical commands need a second person). */
export const approvalsSchema = z.object({
  /** Commands whose total power exceeds this need a second operator, W. */
  maxSingleOperatorW: z.number().min(0).default(50_000),
  /** Commands addressed to more than this share of the fleet's resources need a second operator, 0..100 %. */
  maxSingleOperatorFleetPercent: z.number().min(0).max(100).default(20),
  /** A held command expires unapproved after this long, ms. */
  expiresAfterMs: z.number().int().min(1000).default(15 * 60_000),
}).strict();
export type ApprovalsConfig = z.output<typeof approvalsSchema>;

/**
 * The closed loop that watches delivery during an event (see closed-loop/redispatch.ts for the
 * rules: a resource follows when delivered ≥ instructed × (1 − toleranceFraction) − toleranceW;
 * after missesToMark misses past the grace time it is non-responding and its power re-dispatched).
 */
export const closedLoopSchema = z.object({
  /** How often delivered power is compared with the target, ms (at most the reporting interval). */
  intervalMs: z.number().int().min(50).max(3_600_000).default(15_000),
  /** Share of the instructed power a resource may fall short by and still count as following. */
  toleranceFraction: z.number().min(0).max(0.99).default(0.1),
  /** Absolute shortfall a resource may have and still count as following, W. */
  toleranceW: z.number().min(0).default(50),
  /** Consecutive misses after which a resource is marked non-responding and its power re-dispatched. */
  missesToMark: z.number().int().min(1).max(100).default(3),
  /** Telemetry older than this counts as missing, ms. */
  telemetryMaxAgeMs: z.number().int().min(100).default(120_000),
  /** No misses are counted this long after the event start, ms (devices ramp). */
  graceMs: z.number().int().min(0).default(60_000),
  /**
   * Ramp-up asked of gateways (OpenADR x-eiRampUp), ms: devices begin this long before the start
   * so the requested level is reached at the start of the block, not one telemetry round later.
   */
  rampUpMs: z.number().int().min(0).max(3_600_000).default(60_000),
}).strict();
export type ClosedLoopConfig = z.output<typeof closedLoopSchema>;

export const aggregatorConfigSchema = z.object({
  /** Our participant id (matches urn:erab:aggregator:<id> in our certificate). */
  id: participantId,
  tls: tlsFilesSchema,
  store: z.object({
    /** SQLite file (default) or postgres:// URL. */
    url: z.string().min(1).default('aggregator.db'),
  }).strict().default({ url: 'aggregator.db' }),
  /** The tamper-evident audit log (src/security/audit): directory and origin name. */
  audit: z.object({
    dir: z.string().min(1).default('aggregator-audit'),
    origin: z.string().regex(/^[^\s+]+$/, 'must contain no spaces or +').optional(),
    /**
     * How often our latest checkpoint is handed to each upstream party to be witnessed, ms; never
     * more often than that party's reports (reportMinPeriodMs). 0 = never.
     */
    witnessIntervalMs: z.number().int().min(0).max(86_400_000).default(300_000),
  }).strict().default({ dir: 'aggregator-audit', witnessIntervalMs: 300_000 }),
  /**
   * Signed updates offered to our gateways on the R4 listener (src/endpoints/openadr/update-offers.ts):
   * the folder `erab update publish --dir` writes. Absent = no update routes.
   */
  updates: z.object({ dir: z.string().min(1) }).strict().optional(),
  /** The downstream VTN (R4 gateways, R3 resource aggregators below us). */
  downstream: z.object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(8444),
    /** Who may connect: gateways and sub-aggregators, by participant or fingerprint. Empty = nobody. */
    allowList: allowListSchema.default({}),
    /** Poll interval we ask gateways to use (oadrRequestedOadrPollFreq), ms. */
    pollIntervalMs: z.number().int().min(50).max(3_600_000).default(10_000),
    /** Telemetry report interval we ask gateways for, ms. */
    reportIntervalMs: z.number().int().min(50).max(3_600_000).default(10_000),
    /** Accepted clock skew of signed payloads' ReplayProtect timestamps, either side, ms. */
    signatureWindowMs: z.number().int().min(1000).max(86_400_000).default(300_000),
    /**
     * Worker processes serving the gateways (docs/scale.md): 1 (default) serves them in the
     * aggregator's process; N > 1 runs N VTN workers on the port (node:cluster) over the
     * PostgreSQL store, each stateless between polls; 0 = one per core. Needs a postgres:// store.
     */
    workers: z.number().int().min(0).max(256).default(1),
    /**
     * Resource aggregators below us (R3, we act as aggregation coordinator): each is dispatched
     * as one resource with its contracted capacity, by a LOAD_DISPATCH delta, and reports its
     * delivery as TELEMETRY_USAGE "delivered". List them in `allowList` too.
     */
    aggregators: z.array(z.object({
      id: participantId,
      /** Contracted reduction (下げ) capacity, W. */
      reduceW: z.number().min(0),
      /** Contracted increase (上げ) capacity, W. */
      increaseW: z.number().min(0).default(0),
      costPerKWh: z.number().min(0).default(30),
    }).strict()).default([]),
  }).strict().default({ host: '127.0.0.1', port: 8444, allowList: {}, pollIntervalMs: 10_000, reportIntervalMs: 10_000, signatureWindowMs: 300_000, workers: 1, aggregators: [] }),
  upstream: z.array(upstreamPartySchema).default([]),
  closedLoop: closedLoopSchema.default(closedLoopSchema.parse({})),
  approvals: approvalsSchema.default(approvalsSchema.parse({})),
  /** Headroom kept for resources that fail to respond (see allocation/types.ts HeadroomPolicy). */
  headroom: z.object({
    mode: z.enum(['standby', 'overallocate']).default('standby'),
    fraction: z.number().min(0).max(1).default(0.1),
  }).strict().default({ mode: 'standby', fraction: 0.1 }),
  /**
   * The operator console and API (HTTPS JSON, mutual TLS, operator certificates only; OpenAPI at
   * /openapi.json, docs/operator-api.md).
   */
  console: z.object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(0),
    allowList: allowListSchema.default({ roles: ['operator'] }),
    /**
     * Each operator's role (viewer, operator, approver, security officer, administrator) by
     * operator id or certificate fingerprint. Absent: every operator the allow-list admits is an
     * administrator.
     */
    roles: operatorRolesSchema.optional(),
  }).strict().optional(),
  /** Stream security events to a syslog collector over mutual TLS (RFC 5425). */
  syslog: syslogStreamConfigSchema.optional(),
  /**
   * Detection rules over the audit log and the gateways' telemetry (src/secops/detect, attached by
   * `erab aggregator run`): on by default. `overrides` tunes a shipped rule by id; `notify` and
   * `recipients` send alerts by e-mail and webhook (src/roles/common/detection-config.ts).
   */
  detection: detectionConfigSchema.prefault({}),
  /**
   * Personal data and records at rest (docs/privacy.md): retention periods per data class,
   * applied on start and then every `intervalMs` (also by `erab privacy retention --config`).
   */
  privacy: z.object({
    retention: retentionPolicySchema.prefault({}),
  }).strict().optional(),
  /** How often status is pushed to a supervising process (`erab demo`), ms. */
  statusIntervalMs: z.number().int().min(50).default(1000),
  /**
   * Active/standby (ERAB §3.5 事業継続, docs/failover.md): several `erab aggregator run` processes
   * with this configuration over one PostgreSQL store; the one holding the lease in the database
   * serves, the others wait and take over when it stops renewing. Needs a postgres:// store.url.
   */
  standby: z.object({
    enabled: z.boolean().default(false),
    /** How long the lease lasts without renewal, ms: a standby takes over this long after the active process died. */
    leaseTtlMs: z.number().int().min(500).max(300_000).default(10_000),
  }).strict().optional(),
}).strict().superRefine((cfg, ctx) => {
  const names = new Set<string>();
  cfg.upstream.forEach((u, i) => {
    if (names.has(u.name)) ctx.addIssue({ code: 'custom', path: ['upstream', i, 'name'], message: `duplicate upstream party name "${u.name}"` });
    names.add(u.name);
  });
  if (cfg.downstream.workers !== 1 && !/^postgres(ql)?:\/\//.test(cfg.store.url)) {
    ctx.addIssue({ code: 'custom', path: ['downstream', 'workers'], message: 'more than one downstream worker needs a postgres:// store.url (SQLite is one process)' });
  }
  if (cfg.standby?.enabled && !/^postgres(ql)?:\/\//.test(cfg.store.url)) {
    ctx.addIssue({ code: 'custom', path: ['standby', 'enabled'], message: 'an active/standby pair needs a postgres:// store.url that both processes reach (SQLite is one host, one process)' });
  }
});
export type AggregatorConfig = z.output<typeof aggregatorConfigSchema>;
/** The input form (defaults optional), e.g. for tests and the demo orchestrator. */
export type AggregatorConfigInput = z.input<typeof aggregatorConfigSchema>;

/**
 * Loads and validates the aggregator's configuration; throws ConfigError naming the file,
 * field and rule.
 * @example loadAggregatorConfig('aggregator.json').downstream.port // 8444
 */
export function loadAggregatorConfig(file?: string, env: NodeJS.ProcessEnv = process.env): AggregatorConfig {
  return loadConfig(aggregatorConfigSchema, { file, env });
}


/** Validates an in-memory configuration (tests, the demo). */
export function parseAggregatorConfig(input: AggregatorConfigInput): AggregatorConfig {
  const r = aggregatorConfigSchema.safeParse(input, { reportInput: true });
  if (!r.success) throw new ConfigError(explain('config.roleInvalid', { role: 'aggregator' }), { details: configIssueLines(r.error.issues) });
  return r.data;
}
