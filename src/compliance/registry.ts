/**
 * The check registry: every automatic check reads the live system and answers satisfied / not
 * satisfied / not applicable with evidence. Built-in checks register in ./checks; another module
 * (src/secops/*) adds or replaces a check by id at start-up:
 *
 *   import { defaultRegistry } from '../compliance/checks/index.js';
 *   defaultRegistry().register({ id: 'secops.backups-recent', title: '…', run: async (ctx) => ({ status: 'satisfied', evidence: [...] }) }, { replace: true });
 *
 * A check whose feature is not in this build is registered as an "absent feature" placeholder:
 * it answers not satisfied with the evidence "feature not present in this build".
 */
import type { ComplianceProfile } from './profile.js';

export type CheckStatus = 'satisfied' | 'not-satisfied' | 'not-applicable';

/** One thing a check read: what, where, what it saw, when. */
export interface Evidence {
  /** What was read: a file, a table, a setting path. */
  source: string;
  /** What was found there, in words (never a secret). */
  observed: string;
  /** Epoch ms of the reading. */
  at: number;
}

export interface CheckResult { status: CheckStatus; evidence: Evidence[] }

/** What a check may read. Lazily loaded role configs; stores opened once per run. */
export interface CheckContext {
  readonly profile: ComplianceProfile;
  readonly now: number;
  /** Loads a role's config (undefined when the profile names none). Throws ConfigError naming the file. */
  config<K extends keyof RoleConfigs>(role: K): RoleConfigs[K] | undefined;
  /** The file a role config was loaded from, for evidence. */
  configFile(role: keyof RoleConfigs): string | undefined;
  /** Opens a role's database read-mostly (other modules' migrations are not applied). */
  store(url: string): Promise<import('../store/store.js').Store>;
  /** The TLS profiles in force per interface (src/security/tls/profiles.ts). */
  readonly tlsProfiles: Readonly<Record<string, import('../security/tls/profiles.js').TlsProfile>>;
}

export interface RoleConfigs {
  aggregator: import('../roles/aggregator/runtime/config.js').AggregatorConfig;
  tso: import('../roles/tso/config.js').TsoConfig;
  retailer: import('../roles/tso/config.js').TsoConfig;
  gateway: import('../roles/gateway/gateway.js').GatewayConfig;
}

export interface Check {
  /** Stable id, `<area>.<what>`, e.g. "tls.r4", "secops.backups-recent". */
  id: string;
  title: string;
  /** The one setting or state whose change flips it (documentation and the mutation tests). */
  reads: string;
  run(ctx: CheckContext): Promise<CheckResult>;
}

export class CheckRegistry {
  private readonly checks = new Map<string, Check>();

  /** Adds a check; `replace` lets a module provide the real check for a placeholder. */
  register(check: Check, opts: { replace?: boolean } = {}): this {
    if (!/^[a-z0-9-]+\.[a-z0-9.-]+$/.test(check.id)) throw new Error(`check id "${check.id}" must look like "<area>.<what>" (lowercase, digits, -)`);
    if (this.checks.has(check.id) && !opts.replace) throw new Error(`check "${check.id}" is already registered (pass { replace: true } to provide it)`);
    this.checks.set(check.id, check);
    return this;
  }
  get(id: string): Check | undefined { return this.checks.get(id); }
  has(id: string): boolean { return this.checks.has(id); }
  all(): Check[] { return [...this.checks.values()]; }

  /** Runs one check; a check that throws is not satisfied, with the error as evidence. */
  async run(id: string, ctx: CheckContext): Promise<CheckResult> {
    const check = this.checks.get(id);
    if (!check) return { status: 'not-satisfied', evidence: [{ source: `check ${id}`, observed: 'no such check is registered in this build', at: ctx.now }] };
    try {
      return await check.run(ctx);
    } catch (err) {
      return { status: 'not-satisfied', evidence: [{ source: `check ${id}`, observed: `the check could not read the system: ${(err as Error).message}`, at: ctx.now }] };
    }
  }
}

/** A placeholder for a check whose feature another module provides (see the file comment). */
export function absentFeatureCheck(id: string, title: string, reads: string): Check {
  return {
    id, title, reads,
    run: async (ctx) => ({ status: 'not-satisfied', evidence: [{ source: id, observed: 'feature not present in this build', at: ctx.now }] }),
  };
}

/** A role's SQLite store file does not exist (the role has not run there yet); reading must not create it. */
export class StoreAbsentError extends Error {
  constructor(readonly url: string) { super(`store ${url} does not exist (the role has not run yet)`); }
}
