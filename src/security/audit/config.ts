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
