/**
 * The audit log's part of a role's configuration (zod), so every role configures its log the same
 * way and an invalid value stops start-up naming the field (see core/config.ts).
 *
 * @example
 * const roleSchema = z.strictObject({ audit: auditConfigSchema, ... });
 * const log = openAuditLog(config.audit);
 */
import { z } from 'zod';
import type { Clock } from '../../core/clock.js';
import { InvalidInputError } from '../../core/errors.js';
import { SYSLOG_FACILITIES, type SyslogFacility } from './export.js';
import { AuditLog } from './log.js';

export const auditRetentionSchema = z.strictObject({
  /** Archive sealed segments whose newest record is older than this (自家用GL 8-1-4 retention period). */
  maxAgeDays: z.number().positive().optional(),
  /** Keep at least this many records live; older whole segments beyond it are archived. */
  maxRecords: z.number().int().positive().optional(),
  /** Delete archived segments instead of keeping them under <dir>/archive/. */
  deleteArchived: z.boolean().default(false),
});

export const auditConfigSchema = z.strictObject({
  /** The log directory (one per role). */
  dir: z.string().min(1),
  /** Log identity and checkpoint key name, e.g. "erab.example/aggregator-1/audit". */
  origin: z.string().regex(/^[^\s+]+$/, 'must be non-empty, without spaces or "+" (C2SP signed-note key name)'),
  checkpointEvery: z.number().int().min(0).default(1000),
  checkpointIntervalMs: z.number().int().min(0).default(60_000),
  segmentMaxRecords: z.number().int().min(1).default(10_000),
  retention: auditRetentionSchema.optional(),
});

export type AuditConfig = z.infer<typeof auditConfigSchema>;

/** Opens the log a validated configuration describes. */
export function openAuditLog(config: AuditConfig, clock?: Clock): AuditLog {
  return AuditLog.open({
    dir: config.dir,
    origin: config.origin,
    checkpointEvery: config.checkpointEvery,
    checkpointIntervalMs: config.checkpointIntervalMs,
    segmentMaxRecords: config.segmentMaxRecords,
    ...(config.retention ? { retention: config.retention } : {}),
    ...(clock ? { clock } : {}),
  });
}

/**
 * Streaming security events to a collector as RFC 5424 over mutual TLS (RFC 5425), the same in
 * every role's configuration (`syslog: {...}`) and on the command lines (`--syslog host:port`).
 */
export const syslogStreamConfigSchema = z.strictObject({
  /** The collector's address. */
  host: z.string().min(1),
  /** 6514 is the IANA port for syslog over TLS. */
  port: z.number().int().min(1).max(65535).default(6514),
  /** The collector's certificate must name this participant id (urn:erab:<role>:<id>); default: any from our CA. */
  expectId: z.string().min(1).optional(),
  /** Syslog facility of the messages (RFC 5424). */
  facility: z.enum(Object.keys(SYSLOG_FACILITIES) as [SyslogFacility, ...SyslogFacility[]]).default('authpriv'),
  /** APP-NAME of the messages (RFC 5424). */
  appName: z.string().regex(/^[!-~]{1,48}$/, 'must be 1-48 printable ASCII characters without spaces (RFC 5424 APP-NAME)').default('erab'),
  /** Which records: refusals and failures only (default, the security events) or every record. */
  records: z.enum(['security', 'all']).default('security'),
  /** Messages held while the collector is unreachable (oldest dropped beyond it). */
  queueMax: z.number().int().min(1).default(10_000),
});

export type SyslogStreamConfig = z.output<typeof syslogStreamConfigSchema>;

/**
 * Parses `host:port` (or `[v6]:port`) of a `--syslog` option into a stream configuration.
 * @example syslogTarget('127.0.0.1:6514') // { host: '127.0.0.1', port: 6514, ...defaults }
 */
export function syslogTarget(text: string, extra: Partial<z.input<typeof syslogStreamConfigSchema>> = {}): SyslogStreamConfig {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (!m) throw new InvalidInputError(`--syslog "${text.slice(0, 80)}": must be host:port (e.g. 127.0.0.1:6514)`);
  const parsed = syslogStreamConfigSchema.safeParse({ ...extra, host: m[1] ?? m[2], port: Number(m[3]) });
  if (!parsed.success) throw new InvalidInputError(`--syslog "${text.slice(0, 80)}": ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
