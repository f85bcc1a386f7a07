/**
 * Configuration of the TSO simple dispatch system (簡易指令システム) and of the retailer — the
 * same VTN code with other programs. One zod schema, loaded with `loadConfig`
 * (defaults < JSON file < ERAB_* environment).
 *
 * Security defaults: only the aggregators written in `contractedAggregators` may connect and
 * register (ERAB guideline §3.3.1, 勧告: the TSO accepts specified aggregators only); the API
 * admits operator certificates only.
 */
import { z } from 'zod';
import { operatorRolesSchema } from '../common/operator-roles.js';
import { loadConfig } from '../../core/config.js';
import { syslogStreamConfigSchema } from '../../security/audit/config.js';
import { detectionConfigSchema } from '../common/detection-config.js';
import { PARTICIPANT_ID_PATTERN } from '../../security/identity.js';

const participantId = z.string().regex(PARTICIPANT_ID_PATTERN, 'must be 1-64 letters, digits, . _ - (a participant id)');
const file = z.string().min(1, 'must name a file');
const port = z.number().int().min(0).max(65535);

export const contractedAggregatorSchema = z.object({
  /** Participant id in the aggregator's certificate (urn:erab:aggregator:<id>). */
  id: participantId,
  /** Optionally pin its certificate too (OpenADR 10-byte or full SHA-256 fingerprint). */
  fingerprint: z.string().min(1).optional(),
  /** Contracted capacity in kW (the most this party may be dispatched). */
  contractedKw: z.number().positive().optional(),
}).strict();

export const tsoConfigSchema = z.object({
  /** Our participant id (urn:erab:tso:<id> or urn:erab:retailer:<id> in our certificate). */
  id: participantId,
  /** tso: a TSO's simple dispatch system (R1); retailer: a retailer's DR requests (R2). */
  kind: z.enum(['tso', 'retailer']).default('tso'),
  /** TSO area (e.g. tokyo, kansai); informational, part of the market contexts. */
  area: z.string().min(1).default('tokyo'),
  /** Our certificate, its key, the CA we trust and the CA's CRL (PEM files). */
  tls: z.object({ certFile: file, keyFile: file, caFile: file, crlFile: file.optional() }).strict(),
  /** Where the VTN listens for aggregators (mutual TLS). */
  listen: z.object({ host: z.string().min(1).default('127.0.0.1'), port: port.default(8443) }).strict().default({ host: '127.0.0.1', port: 8443 }),
  /** The HTTP API for operators (mutual TLS, operator certificates only); port 0 = ephemeral. */
  api: z.object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(0),
    operators: z.array(participantId).default([]),
    /**
     * Each operator's role (viewer, operator, approver, security officer, administrator) by
     * operator id or certificate fingerprint. Absent: every admitted operator is an administrator.
     */
    roles: operatorRolesSchema.optional(),
  }).strict().default({ host: '127.0.0.1', port: 0, operators: [] }),
  /** The store: an SQLite file (default) or a postgres:// URL. */
  store: z.object({ url: z.string().min(1).default('tso.db') }).strict().default({ url: 'tso.db' }),
  /** The tamper-evident audit log's directory. */
  audit: z.object({ dir: z.string().min(1).default('tso-audit') }).strict().default({ dir: 'tso-audit' }),
  /** The registry of contracted aggregators; nobody else connects. */
  contractedAggregators: z.array(contractedAggregatorSchema).default([]),
  /** oadrPoll frequency asked of aggregators, ms. */
  pollIntervalMs: z.number().int().min(50).max(3_600_000).default(10_000),
  /** Telemetry interval asked of aggregators (TELEMETRY_USAGE), ms; 1 minute for simple dispatch. */
  reportIntervalMs: z.number().int().min(50).max(3_600_000).default(60_000),
  /** Accepted clock skew of signed payloads' ReplayProtect timestamps, either side, ms. */
  signatureWindowMs: z.number().int().min(1000).max(86_400_000).default(300_000),
  /** A JSON schedule of dispatches to issue automatically (see schedule.ts). */
  scheduleFile: file.optional(),
  /** Stream security events to a syslog collector over mutual TLS (RFC 5425). */
  syslog: syslogStreamConfigSchema.optional(),
  /** Detection over this VTN's audit log (attached by `erab tso|retailer run`; src/roles/common/detection-config.ts). */
  detection: detectionConfigSchema.prefault({}),
  /** Status pushed to a supervising process (`erab demo`) this often, ms. */
  statusIntervalMs: z.number().int().min(50).default(1000),
}).strict();

export type TsoConfig = z.output<typeof tsoConfigSchema>;
export type TsoConfigInput = z.input<typeof tsoConfigSchema>;

export function loadTsoConfig(file?: string, env: NodeJS.ProcessEnv = process.env): TsoConfig {
  return loadConfig(tsoConfigSchema, { file, env });
}
