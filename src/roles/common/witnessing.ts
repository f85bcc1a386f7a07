/**
 * Audit-log witnessing between the roles (src/security/audit/witness.ts and witness-client.ts),
 * joined to the OpenADR transport: the upstream peer's OpenADR listener serves the witness's two
 * POST endpoints behind its mutual TLS and allow-list, and the participant below posts to them
 * with the TLS client options its VEN already uses.
 *
 *   gateway ──add-checkpoint──▶ aggregator ──add-checkpoint──▶ TSO / retailer
 */
import * as https from 'node:https';
import type * as tls from 'node:tls';
import type { Clock } from '../../core/clock.js';
import type { ExtraRoute } from '../../protocols/openadr/http.js';
import type { AuditLog } from '../../security/audit/log.js';
import type { AuditSink } from '../../security/audit/types.js';
import { AuditWitness, WITNESS_ADD_CHECKPOINT_PATH, WITNESS_LOG_KEY_PATH } from '../../security/audit/witness.js';
import { CheckpointWitnessing, type WitnessPost } from '../../security/audit/witness-client.js';
import { join } from 'node:path';

/** The listener routes of a witness: `POST /erab/witness/add-checkpoint` and `POST /erab/witness/log-key`. */
export function witnessRoutes(witness: AuditWitness): ReadonlyMap<string, ExtraRoute> {
  return new Map<string, ExtraRoute>([
    [WITNESS_ADD_CHECKPOINT_PATH, async (body, peer) => witness.addCheckpoint(peer, body.toString('utf8'))],
    [WITNESS_LOG_KEY_PATH, async (body, peer) => witness.registerLogKey(peer, body.toString('utf8'))],
  ]);
}

/**
 * Opens the witness of a role that has its own audit log: state in `<audit dir>/witness`, named
 * after the log's origin (`<origin>/witness`).
 */
export function openRoleWitness(log: AuditLog, audit: AuditSink, clock?: Clock): AuditWitness {
  return AuditWitness.open({ dir: join(log.dir, 'witness'), name: `${log.origin}/witness`, audit, ...(clock ? { clock } : {}) });
}

/**
 * POSTs to `<baseUrl><path>` with keep-alive mutual TLS; resolves to status, content type and body
 * (a reply over `maxReplyBytes` is cut off with an error). Also the gateway's notice fetch
 * (src/roles/gateway/notices.ts) and the update client's transport, with larger reply limits.
 */
export function httpsWitnessPost(baseUrl: string, tlsOptions: tls.ConnectionOptions, timeoutMs = 15_000, maxReplyBytes = 64 * 1024): { post: WitnessPost; close(): void } {
  const base = new URL(baseUrl);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ...tlsOptions });
  const prefix = base.pathname.replace(/\/$/, '');
  const post: WitnessPost = (path, body) => new Promise((resolve, reject) => {
    const req = https.request({
      agent,
      host: base.hostname.replace(/^\[|\]$/g, ''),
      port: base.port || 443,
      method: 'POST',
      path: `${prefix}${path}`,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) },
      timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxReplyBytes) res.destroy(new Error(`reply from ${baseUrl}${path} is larger than ${maxReplyBytes} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${baseUrl}${path}: no reply within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
  return { post, close: () => agent.destroy() };
}

export interface UpstreamWitnessingOptions {
  log: AuditLog;
  /** File label of the upstream peer, e.g. "aggregator-AGG1". */
  witness: string;
  baseUrl: string;
  tls: tls.ConnectionOptions;
  intervalMs: number;
  clock?: Clock;
  onLog?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Starts handing our checkpoints to the upstream peer every `intervalMs`; stop() ends it. */
export function startUpstreamWitnessing(o: UpstreamWitnessingOptions): { witnessing: CheckpointWitnessing; stop(): void } {
  const transport = httpsWitnessPost(o.baseUrl, o.tls);
  const witnessing = new CheckpointWitnessing({
    log: o.log, witness: o.witness, post: transport.post, intervalMs: o.intervalMs,
    ...(o.clock ? { clock: o.clock } : {}), ...(o.onLog ? { onLog: o.onLog } : {}),
  });
  witnessing.start();
  return {
    witnessing,
    stop: () => {
      witnessing.stop();
      transport.close();
    },
  };
}
