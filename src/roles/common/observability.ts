/**
 * What every role sets up to be watched (ERAB §3.5 検知, §4.1.3): its {@link RoleHealth}
 * (metrics, readiness, refusals logged at warn) over its audit log and TLS material, and, when
 * configured, the live stream of its security events to a syslog collector over mutual TLS
 * (RFC 5424 messages, RFC 5425 transport). One call per role, so the roles stay alike.
 */
import { sql } from 'kysely';
import type { Logger } from '../../core/logger.js';
import type { VtnStore } from '../../protocols/openadr/vtn-store.js';
import type { SyslogStreamConfig } from '../../security/audit/config.js';
import { toSyslog } from '../../security/audit/export.js';
import { AuditLog } from '../../security/audit/log.js';
import type { AuditSink } from '../../security/audit/types.js';
import { SyslogTlsStream } from '../../security/audit/syslog-tls.js';
import { clientTlsOptions, type TlsMaterial } from '../../security/tls.js';
import type { Store } from '../../store/store.js';
import { RoleHealth } from './health.js';

export interface RoleObservability {
  health: RoleHealth;
  /** The syslog stream, when configured. */
  syslog: SyslogTlsStream | undefined;
  /** Stops observing and ends the syslog session (after sending what is queued). */
  close(): Promise<void>;
}

/**
 * @example
 * const obs = observeRole({ role: 'tso', id: 'TSO1', audit: log, material, logger, syslog: config.syslog });
 * obs.health.ready('store', ...); // then serve obs.health on the operator listener
 */
export function observeRole(o: {
  role: string; id: string; audit: AuditSink; material: TlsMaterial; logger?: Logger | undefined; syslog?: SyslogStreamConfig | undefined;
  /** Whether the metrics are served (then Node's process metrics are added too). */
  served: boolean;
}): RoleObservability {
  const health = new RoleHealth({ role: o.role, id: o.id, logger: o.logger, processMetrics: o.served });
  health.watchTls(o.material);
  const offs: (() => void)[] = [];
  // Roles that were handed a plain sink (tests, a shared in-memory log) have nothing to observe.
  const log = o.audit instanceof AuditLog ? o.audit : undefined;
  if (log) offs.push(health.watchAudit(log));
  let syslog: SyslogTlsStream | undefined;
  if (o.syslog && log) {
    const c = o.syslog;
    syslog = new SyslogTlsStream({
      host: c.host, port: c.port, queueMax: c.queueMax,
      tls: clientTlsOptions(o.material, 'syslog', c.expectId ? { expect: { id: c.expectId } } : {}),
      onError: (err) => o.logger?.warn({ err: err.message }, 'syslog collector unreachable; retrying'),
    });
    const stream = syslog;
    offs.push(log.observe((r) => {
      if (c.records === 'all' || r.outcome !== 'success') stream.send(toSyslog(r, { facility: c.facility, appName: c.appName }));
    }));
    health.gauge('erab_syslog_queue_depth', 'Security events waiting for the syslog collector', () => stream.queued);
    health.gauge('erab_syslog_dropped', 'Security events dropped because the syslog queue was full', () => stream.dropped);
  }
  return {
    health,
    syslog,
    async close() {
      for (const off of offs) off();
      await syslog?.close();
    },
  };
}

/**
 * Pending messages per outbox topic (src/store/outbox.ts), e.g. an upstream VEN's reports waiting
 * for its VTN: one grouped count over the outbox's (topic, delivered_at) index, at scrape time.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function outboxDepths(store: Store<any>): () => Promise<{ labels: { topic: string }; value: number }[]> {
  return async () => {
    const rows = await sql<{ topic: string; n: number | string | bigint }>`select topic, count(*) as n from erab_outbox where delivered_at is null group by topic`.execute(store.db);
    return rows.rows.map((r) => ({ labels: { topic: r.topic.slice(0, 100) }, value: Number(r.n) }));
  };
}

/** Registers the queue gauge of a VTN: VENs with payloads waiting for their next poll. */
export function watchVtnQueue(health: RoleHealth, vtnStore: Pick<VtnStore, 'pendingVens'>): void {
  health.gauge('erab_vtn_queued_vens', 'VENs with payloads waiting in the VTN\'s poll queue', async () => (await vtnStore.pendingVens(Date.now())).length);
}

/** Readiness of a role's data layer: one trivial query (SQLite or PostgreSQL). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function storeReadiness(store: Store<any>): () => Promise<true> {
  return async () => {
    await sql`select 1`.execute(store.db);
    return true;
  };
}
