/**
 * What the CLI attaches to a running role from above (layering: roles never import secops):
 * detection on every VTN role (aggregator, TSO, retailer) and, on the aggregator, vulnerability
 * findings re-evaluated when a gateway's inventory changes; and the operator endpoint's secops routes
 * (/api/alerts on every VTN role, /api/vuln/... on the aggregator: src/secops/api/routes.ts). `erab aggregator run`, `erab tso|retailer
 * run` (and so `erab demo`'s participants) and the tests start roles through these, so a test runs
 * the composition the operator runs.
 *
 * @example
 * const secops = aggregatorSecops(cfg, { clock, logger });
 * const agg = await startAggregator(cfg, { ...secops.deps, clock });
 * secops.detection.running?.alerts.list();
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { AggregatorConfig } from '../roles/aggregator/runtime/config.js';
import type { Attach } from '../roles/common/composition.js';
import type { DetectionConfig } from '../roles/common/detection-config.js';
import type { Migration } from '../store/migrations.js';
import { detectionAttachment, DETECTION_MIGRATIONS, type DetectionAttachment, type DetectionAttachOptions } from '../secops/detect/attach.js';
import type { Alert } from '../secops/detect/alerts.js';
import { secopsApiAttachment } from '../secops/api/routes.js';
import { ownSoftwareAttachment } from '../secops/inventory/own-software.js';
import { secopsMigrations } from '../secops/tables.js';
import { complianceApiAttachment, type ComplianceAttachOptions } from '../compliance/api-routes.js';
import type { ComplianceProfile } from '../compliance/profile.js';
import type { ExtraRoute } from '../protocols/openadr/http.js';
import { secopsWiring, type SecopsAttached, type SecopsWiringOptions } from './commands/aggregator-secops.js';

export interface RoleSecops {
  /** Spread into the role's deps. */
  readonly deps: { extraMigrations: readonly Migration[]; attach: readonly Attach[]; routes?: ReadonlyMap<string, ExtraRoute> };
  readonly detection: DetectionAttachment;
  /** The aggregator's notice board and notifier once its store is open (supervisor commands: aggregator-secops.ts). */
  readonly attached?: () => SecopsAttached | undefined;
}

/** Detection for a TSO or retailer, and its own software in its own inventory store. */
export function vtnSecops(detection: DetectionConfig, o: DetectionAttachOptions = {}): RoleSecops {
  const d = detectionAttachment(detection, o);
  const api = secopsApiAttachment({ vuln: false, alerts: () => d.running?.alerts });
  return { deps: { extraMigrations: [...secopsMigrations, ...DETECTION_MIGRATIONS], attach: [d.attach, api, ownSoftwareAttachment()] }, detection: d };
}

/**
 * An aggregator's secops: detection, the console's /api/vuln/... and /api/alerts routes, the
 * vulnerability and notification tables, the gateway notice board on R4, the notifier and the
 * re-evaluation of findings when a gateway's inventory changes (aggregator-secops.ts).
 * `compliance`: run this profile's checks on a schedule (`complianceSchedule.intervalMs`, default
 * hourly), keep every run, and serve GET /api/compliance/status and /history (src/compliance/api-routes.ts).
 */
export function aggregatorSecops(cfg: AggregatorConfig, o: DetectionAttachOptions & SecopsWiringOptions & { clock?: Clock; logger?: Logger; compliance?: ComplianceProfile; complianceSchedule?: ComplianceAttachOptions } = {}): RoleSecops {
  const d = detectionAttachment(cfg.detection, o);
  const wiring = secopsWiring({
    ...o,
    ...(o.onReevaluated || !o.logger ? {} : { onReevaluated: (x) => o.logger?.info({ ...x }, 'vulnerability findings re-evaluated') }),
    ...(o.onError || !o.logger ? {} : { onError: (m: string) => o.logger?.warn({}, m) }),
  });
  const api = secopsApiAttachment({ vuln: true, alerts: () => d.running?.alerts });
  return {
    deps: {
      extraMigrations: [...wiring.deps.extraMigrations, ...DETECTION_MIGRATIONS],
      attach: [...wiring.deps.attach, d.attach, api, ...(o.compliance ? [complianceApiAttachment(o.compliance, o.complianceSchedule)] : [])],
      routes: wiring.deps.routes,
    },
    detection: d,
    attached: wiring.attached,
  };
}

/** The alerts a supervisor (`erab demo`) sees in a participant's status: the latest delivered in this process. */
export function alertsForStatus(d: DetectionAttachment, max = 50, participant?: string): StatusAlert[] {
  return d.inbox.received.slice(-max).map((a) => ({
    id: a.id, ruleId: a.ruleId, key: a.key, severity: a.severity, summary: a.summary, count: a.count, lastAt: a.lastAt,
    ...(participant ? { participant } : {}),
    // The latest evidence's reason says who it was (a certificate's hash alone does not).
    ...(a.evidence.at(-1)?.reason ? { evidence: a.evidence.at(-1)!.reason!.slice(0, 300) } : {}),
  }));
}

/** One alert in a status message. */
export type StatusAlert = Pick<Alert, 'id' | 'ruleId' | 'key' | 'severity' | 'summary' | 'count' | 'lastAt'> & { participant?: string; evidence?: string };
