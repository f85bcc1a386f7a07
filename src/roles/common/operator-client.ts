/**
 * One JSON request to a role's operator endpoint (operator-api.ts) over mutual TLS, as an
 * operator certificate: the client side shared by the `erab` commands (src/cli) and the incident
 * playbooks (src/secops/incidents), which reach a gateway's safe mode and quarantine with it.
 */
import * as https from 'node:https';
import { ErabError, explain, InvalidInputError } from '../../core/errors.js';
import type { ParticipantRole } from '../../security/identity.js';
import { clientTlsOptions, type TlsMaterial } from '../../security/tls.js';

/** The largest reply read by default (a page of a large fleet fits). */
export const OPERATOR_REPLY_MAX_BYTES = 16 * 1024 * 1024;

export type OperatorMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * Sends `body` (JSON, when given) and answers the status and the parsed JSON reply (undefined
 * when empty). The server must present a certificate of `expect`'s role (and id, when given).
 * @throws InvalidInputError `base` is not an https:// URL, or the reply is not JSON
 * @example const r = await operatorCall(material, 'https://127.0.0.1:9464', 'POST', '/safe-mode', { reason }, 'gateway');
 */
export function operatorCall(
  material: TlsMaterial, base: string, method: OperatorMethod, path: string, body: unknown,
  expect: ParticipantRole | { role: ParticipantRole; id?: string | undefined },
  o: { maxReplyBytes?: number | undefined } = {},
): Promise<{ status: number; json: unknown }> {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new InvalidInputError(explain('operatorCall.notUrl', { url: base.slice(0, 200) }));
  }
  if (url.protocol !== 'https:') throw new InvalidInputError(explain('operatorCall.notHttps', { url: base.slice(0, 200) }));
  const want = typeof expect === 'string' ? { role: expect } : { role: expect.role, ...(expect.id ? { id: expect.id } : {}) };
  const tls = clientTlsOptions(material, 'console', { expect: want });
  const max = o.maxReplyBytes ?? OPERATOR_REPLY_MAX_BYTES;
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
        if (out.length > max) res.destroy(new ErabError('reply_too_large', explain('operatorCall.tooLarge', { url: base, max })));
      });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: out ? JSON.parse(out) as unknown : undefined });
        } catch {
          reject(new InvalidInputError(explain('operatorCall.notJson', { url: `${base}${path}`, status: res.statusCode ?? '?' })));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new ErabError('no_reply', explain('operatorCall.noReply', { url: base }))));
    req.on('error', reject);
    req.end(text);
  });
}
