/**
 * The gateway's health, metrics and security-event stream (src/roles/common/health.ts): the
 * gateway's `operator: { port }` in its configuration starts a listener for /healthz, /readyz and
 * /metrics (mutual TLS, operator certificates) that also serves the operator actions of
 * operator-actions.ts (safe mode, device admission and quarantine), and `syslog: {...}`
 * streams its security events to a collector (RFC 5425).
 */
import { z } from 'zod';
import type { Logger } from '../../core/logger.js';
import type { AuditSink } from '../../security/audit/types.js';
import { PARTICIPANT_ID_PATTERN } from '../../security/identity.js';
import type { TlsMaterial } from '../../security/tls.js';
import type { Store } from '../../store/store.js';
import { startOperatorListener, type OperatorListener } from '../common/health.js';
import type { ApiRoute } from '../common/operator-api.js';
import { OperatorRoleTable, operatorRolesSchema } from '../common/operator-roles.js';
import { observeRole, outboxDepths, storeReadiness } from '../common/observability.js';
import type { SyslogStreamConfig } from '../../security/audit/config.js';

/** `operator`: where health and metrics are served. */
export const gatewayOperatorSchema = z.object({
  /** Address the health and metrics listener binds. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Its port (0 = ephemeral). */
  port: z.number().int().min(0).max(65535),
  /** Operator participant ids allowed (default: any operator certificate from our CA). */
  operators: z.array(z.string().regex(PARTICIPANT_ID_PATTERN)).default([]),
  /**
   * Each operator's role (viewer, operator, approver, security officer, administrator) by
   * operator id or certificate fingerprint. Absent: every admitted operator is an administrator.
   */
  roles: operatorRolesSchema.optional(),
}).strict();

/** What the gateway exposes to its health checks. */
export interface GatewayProbe {
  registered(): boolean;
  aggregatorReachable(): boolean;
  devices(): { online: boolean; admission: string }[];
}

export interface GatewayWatch {
  operator: OperatorListener | undefined;
  close(): Promise<void>;
}

/**
 * @example const w = await watchGateway(probe, { id, audit, material, logger, store, operator: config.operator, syslog: config.syslog });
 */
export async function watchGateway(probe: GatewayProbe, o: {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  id: string; audit: AuditSink; material: TlsMaterial; logger: Logger; store: Store<any>;
  operator?: z.output<typeof gatewayOperatorSchema> | undefined; syslog?: SyslogStreamConfig | undefined;
  /** Operator actions served beside health (operator-actions.ts). */
  routes?: readonly ApiRoute[] | undefined;
}): Promise<GatewayWatch> {
  const obs = observeRole({ role: 'gateway', id: o.id, audit: o.audit, material: o.material, logger: o.logger, syslog: o.syslog, served: o.operator !== undefined });
  const h = obs.health;
  h.gauge('erab_devices', 'Devices behind the gateway, by admission state and whether they answer', () => {
    const counts = new Map<string, number>();
    for (const d of probe.devices()) {
      const k = `${d.admission}\u0000${d.online ? 'online' : 'offline'}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return [...counts].map(([k, value]) => {
      const [admission, state] = k.split('\u0000') as [string, string];
      return { labels: { admission, state }, value };
    });
  }, ['admission', 'state']);
  h.gauge('erab_upstream_reachable', '1 while the aggregator answers (0: fail-safe counting down)', () => (probe.aggregatorReachable() ? 1 : 0));
  h.gauge('erab_outbox_depth', 'Reports waiting on disk for the aggregator', outboxDepths(o.store), ['topic']);
  h.ready('store', storeReadiness(o.store));
  h.ready('registered', () => probe.registered() || 'not registered with the aggregator');
  h.ready('upstream', () => probe.aggregatorReachable() || 'the aggregator does not answer');
  let operator: OperatorListener | undefined;
  try {
    if (o.operator) {
      operator = await startOperatorListener(h, {
        material: o.material, audit: o.audit, host: o.operator.host, port: o.operator.port, listener: `gateway:${o.id}:operator`, operators: o.operator.operators, routes: o.routes,
        roles: o.operator.roles ? new OperatorRoleTable(o.operator.roles) : undefined,
      });
    }
  } catch (err) {
    await obs.close();
    throw err;
  }
  return {
    operator,
    async close() {
      await operator?.close();
      await obs.close();
    },
  };
}
