/**
 * Business continuity of the aggregator (ERAB §3.5 (iv) 被害把握・事業継続, docs/failover.md,
 * docs/scale.md): an active/standby pair over one PostgreSQL store, so a standby takes over the
 * gateways when the active process dies. The number of R4 workers is shown beside it.
 */
import type { Check } from '../registry.js';
import { aggregatorConfigOr, isResult } from './aggregator-config.js';

export const activeStandbyCheck: Check = {
  id: 'continuity.active-standby',
  title: 'The aggregator runs as an active/standby pair (a standby takes over)',
  reads: 'aggregator standby.enabled (with its lease) and downstream.workers',
  async run(ctx) {
    const a = aggregatorConfigOr(ctx, 'active/standby is a setting of the aggregator');
    if (isResult(a)) return a;
    const on = a.standby?.enabled === true;
    const workers = a.downstream.workers === 0 ? 'one R4 worker per core' : `${a.downstream.workers} R4 worker${a.downstream.workers === 1 ? '' : 's'}`;
    return { status: on ? 'satisfied' : 'not-satisfied', evidence: [{ source: `${ctx.configFile('aggregator')}#standby`,
      observed: `aggregator ${a.id}: ${on ? `active/standby, a standby takes over ${a.standby!.leaseTtlMs} ms after the active process stops renewing its lease` : 'a single process (standby not enabled): nobody takes over when it stops'}; ${workers}`, at: ctx.now }] };
  },
};
