/**
 * How the demo runs its TSO, retailer and aggregators: the same role code as `erab tso run` and
 * `erab aggregator run` (startTso, startAggregator), on the shared accelerated clock the demo
 * hands every participant (ERAB_SIM_SPEED / ERAB_SIM_REAL_ANCHOR / ERAB_SIM_ANCHOR, see
 * src/core/clock.ts).
 *
 * The demo runs its aggregators with `erab aggregator run` (it takes the shared clock from the
 * environment). The TSO and retailer go through this adapter because `erab tso run` reads every
 * ERAB_* variable as configuration, so the clock's ERAB_SIM_* variables are refused as unknown
 * fields by its strict schema. Here a role's configuration sees only the ERAB_* variables that
 * name one of its own top-level fields. (`erab demo participant aggregator` remains for
 * completeness.)
 */
import type { LogFn } from '../../core/logger.js';
import type { z } from 'zod';
import { clockFromEnv, type Clock } from '../../core/clock.js';
import { loadConfig } from '../../core/config.js';
import { startAggregator, type AggregatorDeps, type RunningAggregator } from '../aggregator/runtime/aggregator.js';
import { loadAggregatorConfig, type AggregatorConfig } from '../aggregator/runtime/config.js';
import { tsoConfigSchema, type TsoConfig } from '../tso/config.js';
import { startTso, type RunningTso, type TsoDeps } from '../tso/tso.js';

export function loadVtnRoleConfig(file: string, env: NodeJS.ProcessEnv = process.env): TsoConfig {
  return loadConfig(tsoConfigSchema, { file, env });
}

/**
 * Starts the TSO or retailer from its file on the shared clock; `compose` gives what the CLI
 * attaches from above (detection) for the configuration read.
 */
export async function startVtnParticipant(file: string, clock: Clock = clockFromEnv(), compose?: (cfg: TsoConfig) => TsoDeps): Promise<RunningTso> {
  const cfg = loadVtnRoleConfig(file);
  return startTso(cfg, { ...compose?.(cfg), clock });
}

/** Starts an aggregator from its file on the shared clock (resources are learnt from its gateways). */
export async function startAggregatorParticipant(file: string, clock: Clock = clockFromEnv(), log?: LogFn, compose?: (cfg: AggregatorConfig) => AggregatorDeps): Promise<RunningAggregator> {
  const cfg = loadAggregatorConfig(file);
  return startAggregator(cfg, { ...compose?.(cfg), clock, ...(log ? { log } : {}) });
}
