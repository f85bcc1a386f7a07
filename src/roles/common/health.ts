/**
 * Health and metrics of one role process (ERAB §4.1.3 Table 2: performance, liveness and event
 * monitoring), served on the role's operator listener behind mutual TLS with operator
 * certificates:
 *
 *   GET /healthz   200 while the process runs (liveness)
 *   GET /readyz    200 when every readiness check passes (store, listeners, upstream), else 503;
 *                  JSON `{ ready, checks: { name: true|false|"reason" } }`
 *   GET /metrics   Prometheus text exposition format 0.0.4 (prom-client)
 *
 * Metrics (every series carries `role` and `id`):
 *   erab_oadr_request_duration_seconds{interface,service,outcome}  histogram per OpenADR service
 *       handled by our VTN; its _count gives requests, so polls/s is
 *       rate(erab_oadr_request_duration_seconds_count{service="OadrPoll"}[1m])
 *   erab_refusals_total{action,code}       refused peers and requests (tls.refused, http.refused,
 *       payload and policy refusals), counted where they are audited (the audit log's observer)
 *   erab_certificate_expiry_days{serial}    days until each of our certificates expires
 *   erab_crl_age_seconds, erab_crl_stale    the CRL in force
 *   erab_audit_log_records, erab_audit_last_checkpoint_size, erab_audit_last_checkpoint_timestamp_seconds
 *   plus what the role registers with {@link RoleHealth.gauge}: gateways registered and online,
 *   event delivery ratio, outbox and queue depths...
 *
 * The VTN hot path pays one histogram observation per request (RequestHistogram: series bound
 * once per service and outcome, a bucket search and three additions; no label object, hash or
 * closure per poll). Everything else is computed when scraped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../../core/logger.js';
import type { OadrServiceHandler } from '../../protocols/openadr/http.js';
import type { AuditLog } from '../../security/audit/log.js';
import type { AuditRecord } from '../../security/audit/record.js';
import type { AuditSink } from '../../security/audit/types.js';
import type { TlsMaterial } from '../../security/tls.js';
import { startOperatorApi, type ApiRoute } from './operator-api.js';
import type { OperatorRoleTable } from './operator-roles.js';

/** A readiness check: true when ready; false or a reason when not. May be async (store ping). */
export type ReadinessCheck = () => boolean | string | Promise<boolean | string>;

/** One labelled value of a gauge collected at scrape time. */
export type GaugeSample = number | readonly { labels: Record<string, string>; value: number }[];

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

/** One label set of {@link RequestHistogram}: plain numbers, updated in place. */
interface RequestSeries {
  labels: Record<string, string>;
  /** Per bucket (not cumulative); the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * The request-latency histogram of the VTN hot path. prom-client's Histogram builds a label
 * object and a hash string on every observation; this one is bound once per label set and does
 * a bucket search and three additions per request. prom-client's registry reads it at scrape
 * time (its custom-metric interface: `name`, `help`, `get()`).
 */
class RequestHistogram {
  readonly name = 'erab_oadr_request_duration_seconds';
  readonly help = 'OpenADR requests handled by this VTN, by interface and service';
  readonly type = 'histogram';
  private readonly series: RequestSeries[] = [];

  /** A series for these labels, created once (callers keep it). */
  bind(labels: Record<string, string>): RequestSeries {
    const s: RequestSeries = { labels, counts: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0, count: 0 };
    this.series.push(s);
    return s;
  }

  static observe(s: RequestSeries, seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    s.counts[i]! += 1;
    s.sum += seconds;
    s.count += 1;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Record<string, string | number>; value: number }[] } {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const s of this.series) {
      if (s.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i <= LATENCY_BUCKETS.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: i < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[i]! : '+Inf' }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values };
  }

  reset(): void {
    for (const s of this.series) { s.counts.fill(0); s.sum = 0; s.count = 0; }
  }
}
const DAY_MS = 86_400_000;

/** Prometheus label values must stay few: keep what a code or action looks like, cut the rest. */
const labelValue = (v: unknown, fallback: string): string =>
  typeof v === 'string' && /^[\w.:-]{1,64}$/.test(v) ? v : fallback;

/**
 * The metrics registry and health checks of one role process.
 * @example
 * const health = new RoleHealth({ role: 'tso', id: 'TSO1', logger });
 * health.watchAudit(auditLog); health.watchTls(material);
 * health.ready('store', () => store.ping().then(() => true));
 * const handler = health.instrument('R1', vtn.handle);
 */
export class RoleHealth {
  readonly registry = new Registry();
  private readonly latency = new RequestHistogram();
  private readonly refusals: Counter<'action' | 'code'>;
  private readonly checks = new Map<string, ReadinessCheck>();

  /**
   * `processMetrics`: also Node's own (CPU, memory, event-loop lag, GC) under `erab_`; only for a
   * registry that is served, since each one adds observers (a demo host runs hundreds of gateways).
   */
  constructor(readonly o: { role: string; id: string; logger?: Logger | undefined; processMetrics?: boolean | undefined }) {
    this.registry.setDefaultLabels({ role: o.role, id: o.id });
    if (o.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'erab_' });
    this.registry.registerMetric(this.latency as unknown as Parameters<Registry['registerMetric']>[0]);
    this.refusals = new Counter({
      name: 'erab_refusals_total', help: 'Refused peers and requests, by audit action and refusal code',
      labelNames: ['action', 'code'], registers: [this.registry],
    });
  }

  /**
   * Wraps an OpenADR service handler so every request is timed into the latency histogram.
   * `iface` is the interface profile (R1…R4).
   */
  instrument(iface: string, handler: OadrServiceHandler): OadrServiceHandler {
    const bound = new Map<string, { ok: RequestSeries; error: RequestSeries }>();
    const seriesOf = (service: string) => {
      let c = bound.get(service);
      if (!c) {
        c = { ok: this.latency.bind({ interface: iface, service, outcome: 'ok' }), error: this.latency.bind({ interface: iface, service, outcome: 'error' }) };
        bound.set(service, c);
      }
      return c;
    };
    return async (service, body, peer) => {
      const t0 = performance.now();
      const c = seriesOf(service);
      try {
        const out = await handler(service, body, peer);
        RequestHistogram.observe(c.ok, (performance.now() - t0) / 1000);
        return out;
      } catch (err) {
        RequestHistogram.observe(c.error, (performance.now() - t0) / 1000);
        throw err;
      }
    };
  }

  /**
   * A gauge computed at scrape time from the role's own state (e.g. registered gateways).
   * @example health.gauge('erab_gateways_online', 'Gateways that reported recently', () => fleet.online());
   */
  gauge(name: string, help: string, read: () => GaugeSample | Promise<GaugeSample>, labelNames: readonly string[] = []): void {
    new Gauge({
      name, help, labelNames: [...labelNames], registers: [this.registry],
      async collect() {
        const v = await read();
        this.reset();
        if (typeof v === 'number') {
          this.set(v); // NaN when unknown (no checkpoint yet): an honest "no value", not a 0
        } else {
          for (const s of v) if (Number.isFinite(s.value)) this.set(s.labels, s.value);
        }
      },
    });
  }

  /** Adds a readiness check under `name` (shown in /readyz). */
  ready(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /**
   * Observes the role's audit log: refusals are counted by action and code, refusals log at warn
   * and failures at error (so an operator's log filter sees them without reading the audit log),
   * and the log's size and last checkpoint become metrics. A plain sink (tests) gets the
   * counters only through {@link countAudit}.
   */
  watchAudit(log: AuditLog): () => void {
    this.gauge('erab_audit_log_records', 'Records ever appended to this role\'s audit log', () => log.size);
    this.gauge('erab_audit_last_checkpoint_size', 'Tree size of the latest signed checkpoint', () => log.latestCheckpoint?.size ?? Number.NaN);
    this.gauge('erab_audit_last_checkpoint_timestamp_seconds', 'When this process last signed a checkpoint', () => (log.lastCheckpointAt ?? Number.NaN) / 1000);
    return log.observe((r) => this.countAudit(r));
  }

  /** Counts and logs one audit record (see {@link watchAudit}). */
  countAudit(r: AuditRecord | Parameters<AuditSink['append']>[0]): void {
    if (r.outcome === 'success') return;
    // TLS and HTTP refusals carry a refusal code; OpenADR payload refusals their response code.
    const raw = r.details?.code ?? r.details?.responseCode;
    const code = labelValue(typeof raw === 'number' ? String(raw) : raw, 'none');
    if (r.outcome === 'refused') this.refusals.labels(labelValue(r.action, 'other'), code).inc();
    const log = this.o.logger;
    if (!log) return;
    const fields = {
      audit: { action: r.action, outcome: r.outcome, code, ...('index' in r ? { index: r.index } : {}) },
      actor: { kind: r.actor.kind, id: r.actor.id, role: r.actor.role, address: r.actor.address, fingerprint: r.actor.fingerprint },
      target: r.target, reason: r.reason,
    };
    if (r.outcome === 'refused') log.warn(fields, `${r.action} refused: ${r.reason ?? code}`);
    else log.error(fields, `${r.action} failed: ${r.reason ?? code}`);
  }

  /** Certificate days to expiry and CRL age of a role's TLS material. */
  watchTls(material: TlsMaterial): void {
    this.gauge('erab_certificate_expiry_days', 'Days until our certificate expires', () => material.credentials.map((c) => ({
      labels: { serial: c.identity.serial }, value: (c.identity.notAfter.getTime() - Date.now()) / DAY_MS,
    })), ['serial']);
    this.gauge('erab_crl_age_seconds', 'Age of the CRL in force (now minus thisUpdate)', () => {
      const s = material.crlStatus;
      return s.ageMs === undefined ? Number.NaN : s.ageMs / 1000;
    });
    this.gauge('erab_crl_stale', '1 when the CRL in force is past its nextUpdate (every peer refused)', () => (material.crlStatus.stale ? 1 : 0));
  }

  /**
   * Serves /healthz, /readyz and /metrics; returns false for any other path so the operator
   * listener's own routes run.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') return false;
    const send = (status: number, type: string, text: string): void => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'application/json', JSON.stringify({ error: `use GET on ${path}` }));
      return true;
    }
    if (path === '/healthz') {
      send(200, 'application/json', JSON.stringify({ alive: true, role: this.o.role, id: this.o.id }));
    } else if (path === '/readyz') {
      void this.readiness().then((r) => send(r.ready ? 200 : 503, 'application/json', JSON.stringify(r)));
    } else {
      this.registry.metrics().then(
        (text) => send(200, this.registry.contentType, text),
        (err: unknown) => send(500, 'application/json', JSON.stringify({ error: `metrics: ${(err as Error).message}` })),
      );
    }
    return true;
  }

  /** Runs every readiness check (each bounded to 5 s). */
  async readiness(): Promise<{ ready: boolean; checks: Record<string, true | string> }> {
    const checks: Record<string, true | string> = {};
    await Promise.all([...this.checks].map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const r = await Promise.race([
          Promise.resolve().then(check),
          new Promise<string>((resolve) => { timer = setTimeout(() => resolve('timed out after 5 s'), 5_000); }),
        ]);
        checks[name] = r === true ? true : r === false ? 'not ready' : r;
      } catch (err) {
        checks[name] = (err as Error).message.slice(0, 200);
      } finally {
        if (timer) clearTimeout(timer);
      }
    }));
    return { ready: Object.values(checks).every((v) => v === true), checks };
  }
}

/** A listener serving only health and metrics (roles without an operator API of their own). */
export interface OperatorListener {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the health/metrics listener of a role that has no operator API of its own (gateway,
 * standalone VTN/VEN) on the operator API layer (operator-api.ts): mutual TLS, operator
 * certificates only (a Prometheus server scrapes with one), plus the role's few actions (the
 * gateway's safe mode and device admission), each with its least role and audited.
 * @example const op = await startOperatorListener(health, { material, audit, host: '127.0.0.1', port: 9464, listener: 'gateway:GW1:operator' });
 */
export async function startOperatorListener(health: RoleHealth, o: {
  material: TlsMaterial; audit: AuditSink; host: string; port: number; listener: string; operators?: readonly string[] | undefined;
  /** A role's operator actions (the gateway's safe mode, device admission). */
  routes?: readonly ApiRoute[] | undefined;
  /** Who may do what (operator-roles.ts); undefined: every admitted operator is an administrator. */
  roles?: OperatorRoleTable | undefined;
}): Promise<OperatorListener> {
  const api = await startOperatorApi({
    material: o.material, audit: o.audit, host: o.host, port: o.port, listener: o.listener, health, roles: o.roles,
    allowList: o.operators && o.operators.length > 0 ? { participants: o.operators.map((id) => `operator:${id}`) } : { roles: ['operator'] },
    title: `erab ${o.listener} operator API`, routes: o.routes ?? [],
  });
  return { port: api.port, url: api.url, close: () => api.close() };
}
