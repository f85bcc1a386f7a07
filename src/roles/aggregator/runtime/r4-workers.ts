/**
 * The aggregator's downstream VTN (R4) as N worker processes over one PostgreSQL
 * (`downstream.workers` > 1, docs/scale.md).
 *
 * - The primary (startAggregator) runs everything else: dispatch engine, closed loop, upstream
 *   VENs, operator console, audit log, witness. Its downstream VTN engine does not listen: it
 *   creates, modifies and cancels the gateways' events in the store, and LISTEN/NOTIFY hints
 *   wake the workers' caches.
 * - Each worker (forked with node:cluster by src/roles/common/workers.ts, restarted when it dies)
 *   serves R4 on the shared port with the same endpoint options as a single-process aggregator,
 *   stateless between polls. What the primary needs from the gateways (registrations, METADATA,
 *   telemetry, opts) is relayed through the store (r4-relay.ts); audit records and witness
 *   requests go to the primary over the cluster IPC channel (one audit log, one witness state).
 */
import { leaseMigrations } from '../../../store/lease.js';
import type { Clock } from '../../../core/clock.js';
import type { ExtraRoute } from '../../../protocols/openadr/http.js';
import type { AuditRecordInput, AuditSink } from '../../../security/audit/types.js';
import { WITNESS_ADD_CHECKPOINT_PATH, WITNESS_LOG_KEY_PATH } from '../../../security/audit/witness.js';
import { TlsMaterial } from '../../../security/tls.js';
import { openadrStoreMigrations } from '../../../endpoints/openadr/store.js';
import { startVtnEndpoint, type RunningVtn } from '../../../endpoints/openadr/vtn-endpoint.js';
import { composeMigrations, type Migration } from '../../../store/migrations.js';
import { openStore } from '../../../store/store.js';
import { callPrimary, primaryAudit, reportReady, startWorkers, type WorkerPool } from '../../common/workers.js';
import { portfolioMigrations } from '../portfolio/tables.js';
import type { AggregatorConfig } from './config.js';
import { r4EndpointOptions, r4VtnId, workerReportRequests, type R4EndpointOptions } from './downstream.js';
import { RelayingVtnStore, r4RelayMigrations } from './r4-relay.js';
import { eventBookMigrations } from './event-book.js';

/** The aggregator's store: one list of migrations for the primary and its workers. */
// The lease table too: any process of an active/standby pair (docs/failover.md) opens this list,
// and the engine's running events, which the process taking over resumes.
export const aggregatorMigrations: readonly Migration[] = composeMigrations(openadrStoreMigrations, portfolioMigrations, r4RelayMigrations, leaseMigrations, eventBookMigrations);

/** The witness routes a worker serves by asking the primary (whose witness holds the state). */
const WITNESS_PATHS = [WITNESS_ADD_CHECKPOINT_PATH, WITNESS_LOG_KEY_PATH];

type WitnessCall = { path: string; body: string; peer: { fingerprint: string; id?: string; role?: string; address?: string } };
type RouteAnswer = Awaited<ReturnType<ExtraRoute>>;

/** The options of the R4 endpoint from the configuration (shared by the primary's engine and the workers). */
export function r4Options(cfg: AggregatorConfig, material: TlsMaterial, clock: Clock, audit: AuditSink, store: R4EndpointOptions['store']): R4EndpointOptions {
  return {
    aggregatorId: cfg.id, material, host: cfg.downstream.host, port: cfg.downstream.port,
    allowList: cfg.downstream.allowList, pollIntervalMs: cfg.downstream.pollIntervalMs, reportIntervalMs: cfg.downstream.reportIntervalMs,
    signatureWindowMs: cfg.downstream.signatureWindowMs, clock, audit, store,
    ...(cfg.downstream.aggregators ? { subAggregators: cfg.downstream.aggregators } : {}),
  };
}

/**
 * In a worker process: serves R4 on the shared port until `close()`, and tells the primary it
 * listens. The primary has migrated the store before forking.
 */
export async function startR4Worker(cfg: AggregatorConfig, clock: Clock): Promise<{ vtn: RunningVtn; close(): Promise<void> }> {
  const material = await TlsMaterial.fromFiles({ certFile: cfg.tls.certFile, keyFile: cfg.tls.keyFile, caFile: cfg.tls.caFile, ...(cfg.tls.crlFile ? { crlFile: cfg.tls.crlFile } : {}) });
  // The primary migrated the store before forking, with the tables of modules above the role too.
  const store = await openStore({ url: cfg.store.url, migrations: aggregatorMigrations, ignoreUnknownMigrations: true });
  try {
    const o = r4Options(cfg, material, clock, primaryAudit(), store);
    const routes = new Map<string, ExtraRoute>(WITNESS_PATHS.map((path) => [path, async (body, peer) => {
      const call: WitnessCall = { path, body: body.toString('utf8'), peer: { fingerprint: peer.fingerprint, ...(peer.id ? { id: peer.id } : {}), ...(peer.role ? { role: peer.role } : {}), ...(peer.address ? { address: peer.address } : {}) } };
      return await callPrimary('witness', call) as RouteAnswer;
    }]));
    const relayStore = new RelayingVtnStore(store, r4VtnId(cfg.id), () => clock.now());
    // No hooks here: the relaying store hands the primary what they would have done.
    const vtn = await startVtnEndpoint(r4EndpointOptions({ ...o, routes }, {}, (venId, reports) => workerReportRequests(o, venId, reports), relayStore));
    reportReady(vtn.port, vtn.url);
    return {
      vtn,
      async close() {
        await vtn.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/**
 * In the primary: forks the R4 workers; their audit records go into our log, their witness
 * requests to our witness routes (404 when we have none).
 */
export async function startR4Pool(cfg: AggregatorConfig, audit: AuditSink, witness: ReadonlyMap<string, ExtraRoute> | undefined, log?: (msg: string, fields?: Record<string, unknown>) => void): Promise<WorkerPool> {
  return startWorkers({
    workers: cfg.downstream.workers,
    ...(log ? { log } : {}),
    // Which worker saw it, for the operator reading the log.
    onAudit: (record: AuditRecordInput, pid) => audit.append({ ...record, details: { ...record.details, worker: pid } }),
    onCall: async (kind, payload): Promise<RouteAnswer> => {
      const call = payload as WitnessCall;
      const route = kind === 'witness' ? witness?.get(call.path) : undefined;
      if (!route) return { status: 404, contentType: 'text/plain; charset=utf-8', body: `no ${kind} here` };
      return route(Buffer.from(call.body, 'utf8'), call.peer);
    },
  });
}
