/**
 * One JSON request to a role's operator endpoint over mutual TLS, as an operator certificate
 * (the playbooks' way to reach a gateway's safe mode and quarantine, src/roles/gateway/operator-actions.ts).
 */
import * as https from 'node:https';
import { InvalidInputError } from '../../core/errors.js';
import type { ParticipantRole } from '../../security/identity.js';
import { clientTlsOptions, type TlsMaterial } from '../../security/tls.js';

const MAX_REPLY = 1024 * 1024;

/**
 * @example const r = await operatorCall(material, 'https://127.0.0.1:9464', 'POST', '/safe-mode', { reason }, 'gateway');
 */
export function operatorCall(material: TlsMaterial, base: string, method: 'GET' | 'POST', path: string, body: unknown, expectRole: ParticipantRole): Promise<{ status: number; json: unknown }> {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new InvalidInputError(`operator URL "${base.slice(0, 200)}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw new InvalidInputError(`operator URL ${base.slice(0, 200)} must be https:// (mutual TLS)`);
  const tls = clientTlsOptions(material, 'console', { expect: { role: expectRole } });
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({
      ...tls, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 443, method, path, agent: false, timeout: 30_000,
      headers: { 'content-type': 'application/json', ...(text ? { 'content-length': Buffer.byteLength(text) } : {}) },
    }, (res) => {
      let out = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        out += c;
        if (out.length > MAX_REPLY) res.destroy(new Error(`reply from ${base} larger than ${MAX_REPLY} bytes`));
      });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: out ? JSON.parse(out) as unknown : undefined });
        } catch {
          reject(new InvalidInputError(`reply from ${base}${path} is not JSON (HTTP ${res.statusCode ?? '?'})`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no reply from ${base} within 30 s`)));
    req.on('error', reject);
    req.end(text);
  });
}
