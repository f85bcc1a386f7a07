/** The aggregator's configuration for a check about it, or the result to answer when there is none to read. */
import type { CheckContext, CheckResult, RoleConfigs } from '../registry.js';

/** @param why why only the aggregator is concerned (the not-applicable evidence) */
export function aggregatorConfigOr(ctx: CheckContext, why: string): RoleConfigs['aggregator'] | CheckResult {
  if (!ctx.profile.roles.includes('aggregator')) return { status: 'not-applicable', evidence: [{ source: 'profile roles', observed: why, at: ctx.now }] };
  return ctx.config('aggregator') ?? { status: 'not-satisfied', evidence: [{ source: 'profile configs.aggregator', observed: 'no aggregator configuration named', at: ctx.now }] };
}

/** A check's result rather than a configuration. */
export const isResult = (x: RoleConfigs['aggregator'] | CheckResult): x is CheckResult => 'status' in x && 'evidence' in x;
