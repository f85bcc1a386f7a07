/**
 * The operator's compliance profile: which role(s) it runs, its 区分 under the private-facility
 * guideline, where its role configurations live, and where compliance keeps its history. One
 * zod schema; loadable from a JSON file with CLI flags on top.
 */
import { z } from 'zod';
import { loadConfig } from '../core/config.js';
import { allControls, OPERATOR_ROLES, type ComplianceControl, type Kubun, type Level } from './catalog.js';

export const complianceProfileSchema = z.object({
  /** Who is assessed (the participant whose key signs the report). */
  participant: z.object({ id: z.string().min(1), name: z.string().min(1).optional() }).strict(),
  roles: z.array(z.enum(OPERATOR_ROLES)).min(1, 'declare at least one role (tso, retailer, aggregator, ems)'),
  /** 自家用電気工作物 区分; omitted = the private-facility guideline does not apply. */
  kubun: z.enum(['A', 'B', 'C']).optional(),
  /** The role configuration files that are read as the live system (same files the roles start from). */
  configs: z.object({
    aggregator: z.string().min(1).optional(),
    tso: z.string().min(1).optional(),
    retailer: z.string().min(1).optional(),
    gateway: z.string().min(1).optional(),
  }).strict().default({}),
  /** Where results and decisions are kept: SQLite file or postgres:// URL. */
  store: z.string().min(1).default('compliance.db'),
  /** CRLs older than this are stale even before their nextUpdate, hours. */
  crlMaxAgeHours: z.number().positive().default(24 * 7),
  /**
   * When a vulnerability finding is overdue (secops.findings-overdue): days after it was first
   * found, by severity (critical = CVSS >= 9 or known exploited, high = CVSS >= 7, other); and how
   * old the newest advisory feed import may be (secops.feeds-recent).
   */
  vulnerabilities: z.object({
    criticalDays: z.number().positive().default(14),
    highDays: z.number().positive().default(30),
    otherDays: z.number().positive().default(90),
    feedMaxAgeDays: z.number().positive().default(7),
  }).strict().prefault({}),
  /**
   * Where `erab backup --out` writes the roles' archives (secops.backups-recent, docs/backup.md):
   * the newest archive of each declared aggregator/TSO/retailer that verifies as `erab restore
   * --check` does must be at most `maxAgeHours` old (a daily job with slack: 26 h). Verifying
   * opens the encrypted keys, so the check needs the backup passphrase's file (owner-only).
   */
  backups: z.object({
    dir: z.string().min(1),
    maxAgeHours: z.number().positive().default(26),
    passphraseFile: z.string().min(1).optional(),
  }).strict().optional(),
  /**
   * Personal data at rest (secops.personal-data-encryption, docs/privacy.md): the key-encryption
   * key file the roles are given (ERAB_PRIVACY_KEK_FILE / --kek-file). Only its mode and key id
   * are reported, never its bytes.
   */
  privacy: z.object({ kekFile: z.string().min(1) }).strict().optional(),
  /** The audit log decisions are recorded in (src/security/audit). */
  audit: z.object({ dir: z.string().min(1).default('compliance-audit'), origin: z.string().regex(/^[^\s+]+$/, 'must contain no spaces or +').optional() }).strict().default({ dir: 'compliance-audit' }),
  /** Report signing: the participant's key and certificate (PEM). */
  signing: z.object({ keyFile: z.string().min(1), certFile: z.string().min(1).optional() }).strict().optional(),
}).strict();
export type ComplianceProfile = z.output<typeof complianceProfileSchema>;
export type ComplianceProfileInput = z.input<typeof complianceProfileSchema>;

export function loadComplianceProfile(file?: string, env: NodeJS.ProcessEnv = process.env): ComplianceProfile {
  return loadConfig(complianceProfileSchema, { file, env });
}

/** A control with the level that applies to this operator. */
export interface ScopedControl extends ComplianceControl { appliedLevel: Level }

/**
 * The controls that apply: ERAB items whose actors include one of our roles; every private-facility
 * item when a 区分 is declared, at that 区分's level (勧告 for A on the five 勧告 items, else 推奨).
 */
export function applicableControls(profile: Pick<ComplianceProfile, 'roles' | 'kubun'>): ScopedControl[] {
  const out: ScopedControl[] = [];
  for (const c of allControls()) {
    if (c.catalog === 'erab') {
      if (c.actors.some((a) => profile.roles.includes(a))) out.push({ ...c, appliedLevel: c.level ?? '記載なし' });
    } else if (profile.kubun) {
      out.push({ ...c, appliedLevel: c.levelByKubun?.[profile.kubun as Kubun] ?? '-' });
    }
  }
  return out;
}
