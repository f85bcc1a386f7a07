/**
 * The `detection` key of a role's configuration (aggregator, TSO, retailer). It is data only: the
 * role does not run detection itself; the CLI attaches src/secops/detect to the running role
 * (src/roles/common/composition.ts) and reads these settings. `notify` is the alert mail/webhook
 * settings of src/secops/notify, checked where they are used (secops' own schema).
 */
import { z } from 'zod';

export const detectionConfigSchema = z.object({
  enabled: z.boolean().default(true),
  /** Replaces the shipped rules (src/secops/detect/rules/detection-rules.json). */
  rulesFile: z.string().min(1).optional(),
  /** Per rule id: `params`, `enabled`, `severity`, `dedupWindowMs`, `maxAlertsPerHour`. */
  overrides: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  /** How often the audit log and the stored telemetry are read, ms. */
  pollMs: z.number().int().min(10).max(60_000).default(200),
  /**
   * Alerts by e-mail and webhook (the notify settings: smtp, webhook, retry); absent: alerts stay
   * in the store (`erab alerts list`) and the process log.
   */
  notify: z.record(z.string(), z.unknown()).optional(),
  /**
   * Who receives alerts: the contacts (`erab notify contacts add`) with one of these roles, and
   * the contacts listed by id.
   */
  recipients: z.object({
    roles: z.array(z.string().min(1)).default(['operator', 'security']),
    contactIds: z.array(z.number().int().positive()).default([]),
  }).strict().prefault({}),
}).strict();

export type DetectionConfig = z.output<typeof detectionConfigSchema>;

/** Detection on, shipped rules, no mail: what an absent `detection` key means. */
export const DEFAULT_DETECTION: DetectionConfig = detectionConfigSchema.parse({});
