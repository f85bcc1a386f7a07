/**
 * N worker processes serving one listening port on one host (docs/scale.md): the primary forks
 * the same command N times with node:cluster and restarts a worker that dies; each worker
 * starts one endpoint (e.g. a VTN) in its own process. Node 20 has no SO_REUSEPORT option, so
 * the workers share the port through cluster's round-robin handle passing: the primary accepts
 * each connection and hands it to the next worker; TLS and HTTP run in the worker. A
 * connection belongs to one worker for its life, so when that worker dies its clients see the
 * connection close and reconnect to another.
 *
 * The endpoints must be stateless between requests (the VTN engine is, over a shared
 * PostgreSQL store), which is also what lets several hosts run behind any TCP load balancer.
 */
import type { LogFn } from '../../core/logger.js';
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { AuditRecordInput, AuditSink } from '../../core/audit-port.js';
import { describeError, InvalidInputError } from '../../core/errors.js';

/** What a worker reports to the primary once its endpoint listens. */
export interface WorkerReady {
  type: 'erab-worker-ready';
  port: number;
  url: string;
}

export interface WorkerPoolOptions {
  /** Number of worker processes (≥ 1; 0 = one per core). */
  workers: number;
  /** Wait before restarting a worker that died, ms (default 500; doubled for each death within 10 s, at most 10 s). */
  restartDelayMs?: number;
  /** Lines for the operator (worker started, died, restarted). */
  log?: LogFn;
  /** Audit records the workers send ({@link primaryAudit}): the primary owns the one audit log. */
  onAudit?: (record: AuditRecordInput, pid: number | undefined) => void;
  /** Answers a worker's {@link callPrimary} (e.g. the audit witness, whose state is the primary's). */
  onCall?: (kind: string, payload: unknown) => Promise<unknown>;
}

/** Messages between a worker and the primary besides "ready" (cluster IPC). */
type PoolMessage =
  | { type: 'erab-worker-audit'; record: AuditRecordInput }
  | { type: 'erab-worker-call'; id: string; kind: string; payload: unknown }
  | { type: 'erab-worker-reply'; id: string; ok: boolean; result?: unknown; error?: string };

/**
 * In a worker: an audit sink that hands every record to the primary (one tamper-evident log per
 * role, written by one process). A record still in the IPC pipe when the worker is killed is lost.
 */
export function primaryAudit(): AuditSink {
  return {
    append(record) {
      const msg: PoolMessage = { type: 'erab-worker-audit', record };
      process.send?.(msg);
    },
  };
}

const calls = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

/** In a worker: asks the primary's `onCall` handler; rejects after `timeoutMs` or when the primary refuses. */
export function callPrimary(kind: string, payload: unknown, timeoutMs = 15_000): Promise<unknown> {
  if (!process.send) return Promise.reject(new InvalidInputError(`callPrimary(${kind}): not in a worker process`));
  if (calls.size === 0) process.on('message', onReply);
  const id = randomUUID();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      calls.delete(id);
      if (calls.size === 0) process.off('message', onReply);
      reject(new Error(`the primary did not answer ${kind} within ${timeoutMs} ms`));
    }, timeoutMs);
    calls.set(id, { resolve, reject, timer });
    const msg: PoolMessage = { type: 'erab-worker-call', id, kind, payload };
    process.send!(msg);
  });
}

function onReply(m: PoolMessage): void {
  if (m?.type !== 'erab-worker-reply') return;
  const c = calls.get(m.id);
  if (!c) return;
  calls.delete(m.id);
  clearTimeout(c.timer);
  if (calls.size === 0) process.off('message', onReply);
  if (m.ok) c.resolve(m.result);
  else c.reject(new Error(m.error ?? 'refused by the primary'));
}

export interface WorkerPool {
  /** Port and URL the workers listen on (from the first worker's ready report). */
  readonly port: number;
  readonly url: string;
  /** Process ids of the live workers. */
  pids(): number[];
  /** Number of workers restarted after dying. */
  restarts(): number;
  /** Stops every worker (SIGTERM, then SIGKILL after `graceMs`) and resolves once all exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Validates a `--workers` / `downstream.workers` value: an integer 0..256, 0 meaning one per core. */
export function workerCount(n: number, field = '--workers'): number {
  if (!Number.isInteger(n) || n < 0 || n > 256) throw new InvalidInputError(`${field} must be an integer from 0 (one per core) to 256, got ${n}`);
  return n === 0 ? availableParallelism() : n;
}

/** True in a process forked by startWorkers (it should start one endpoint and call reportReady). */
export function isWorker(): boolean {
  return cluster.isWorker;
}

/** In a worker: tells the primary that the endpoint listens. */
export function reportReady(port: number, url: string): void {
  const msg: WorkerReady = { type: 'erab-worker-ready', port, url };
  process.send?.(msg);
}

/**
 * In the primary: forks `workers` copies of this process's command and keeps that many alive.
 * Resolves when every worker has reported ready; rejects if one fails before that.
 * @example
 * if (isWorker()) { const r = await startOneVtn(); reportReady(r.port, r.url); }
 * else { const pool = await startWorkers({ workers: 4 }); console.log(pool.url); }
 */
export async function startWorkers(opts: WorkerPoolOptions): Promise<WorkerPool> {
  if (!cluster.isPrimary) throw new InvalidInputError('startWorkers runs in the primary process');
  const n = workerCount(opts.workers);
  const log = opts.log ?? (() => {});
  const base = opts.restartDelayMs ?? 500;
  // Round-robin in the primary (the default on Linux; said explicitly, Windows defaults otherwise).
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const live = new Set<Worker>();
  let stopping = false;
  let restarts = 0;
  let recentDeaths: number[] = [];
  let first: WorkerReady | undefined;

  const fork = (): Worker => {
    const w = cluster.fork({ ERAB_WORKER: '1' });
    live.add(w);
    w.on('message', (m: WorkerReady | PoolMessage) => {
      if (m?.type === 'erab-worker-audit') {
        opts.onAudit?.(m.record, w.process.pid);
      } else if (m?.type === 'erab-worker-call') {
        const reply = (r: Omit<Extract<PoolMessage, { type: 'erab-worker-reply' }>, 'type' | 'id'>) => {
          if (w.isConnected()) w.send({ type: 'erab-worker-reply', id: m.id, ...r } satisfies PoolMessage);
        };
        if (!opts.onCall) reply({ ok: false, error: `the primary does not answer ${m.kind}` });
        else opts.onCall(m.kind, m.payload).then((result) => reply({ ok: true, result }), (e: unknown) => reply({ ok: false, error: describeError(e) }));
      } else if (m?.type === 'erab-worker-ready') {
        first ??= m;
        log('worker ready', { pid: w.process.pid, port: m.port });
      }
    });
    return w;
  };

  const ready = new Promise<void>((resolve, reject) => {
    let count = 0;
    const onMsg = (_w: Worker, m: WorkerReady) => {
      if (m?.type === 'erab-worker-ready' && ++count === n) {
        cluster.off('message', onMsg);
        cluster.off('exit', onEarlyExit);
        resolve();
      }
    };
    const onEarlyExit = (w: Worker, code: number | null, signal: string | null) => {
      cluster.off('message', onMsg);
      cluster.off('exit', onEarlyExit);
      reject(new InvalidInputError(`worker ${w.process.pid} exited before it was ready (code ${code ?? '-'}, signal ${signal ?? '-'})`));
    };
    cluster.on('message', onMsg);
    cluster.on('exit', onEarlyExit);
  });

  for (let i = 0; i < n; i++) fork();
  try {
    await ready;
  } catch (err) {
    stopping = true;
    for (const w of live) w.process.kill('SIGKILL');
    throw err;
  }

  cluster.on('exit', (w, code, signal) => {
    live.delete(w);
    if (stopping) return;
    const now = Date.now();
    recentDeaths = [...recentDeaths.filter((t) => now - t < 10_000), now];
    const delay = Math.min(10_000, base * 2 ** (recentDeaths.length - 1));
    log('worker died; restarting', { pid: w.process.pid, code, signal, delayMs: delay }, 'error');
    setTimeout(() => {
      if (stopping) return;
      restarts++;
      fork();
    }, delay);
  });

  const info = first as WorkerReady;
  return {
    port: info.port,
    url: info.url,
    pids: () => [...live].map((w) => w.process.pid).filter((p): p is number => p !== undefined),
    restarts: () => restarts,
    async stop(graceMs = 5_000) {
      stopping = true;
      const exits = [...live].map((w) => new Promise<void>((resolve) => {
        if (w.isDead()) return resolve();
        w.once('exit', () => resolve());
        w.process.kill('SIGTERM');
        setTimeout(() => { if (!w.isDead()) w.process.kill('SIGKILL'); }, graceMs).unref();
      }));
      await Promise.all(exits);
    },
  };
}
