/**
 * An operator's client for the operator API tests: real mutual TLS with the operator's own
 * certificate, JSON in and out, and a server-sent events reader.
 */
import * as https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { TlsMaterial, clientTlsOptions } from '../../../src/security/tls.js';

export interface OperatorCert {
  certPem: string;
  keyPem: string;
}

export interface Answer {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

/** Calls `method path` on the listener at `port` as `who`; `server` is the participant the listener must present. */
export async function operatorCall(o: { port: number; caPem: string; server: { role: string; id: string } }, who: OperatorCert, method: string, path: string, body?: unknown): Promise<Answer> {
  const material = await TlsMaterial.fromPem({ credentials: [{ certPem: who.certPem, keyPem: who.keyPem }], caPem: o.caPem });
  const tls = clientTlsOptions(material, 'console', { expect: o.server as { role: 'aggregator'; id: string } });
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({ ...tls, host: '127.0.0.1', port: o.port, method, path, agent: false, headers: text ? { 'content-type': 'application/json' } : {} }, (res) => {
      let out = '';
      res.on('data', (c: Buffer) => { out += c.toString(); });
      res.on('end', () => {
        let json: unknown;
        try {
          json = out ? JSON.parse(out) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text: out });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(text);
  });
}

export interface SseMessage {
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Opens an event stream; `messages` fills as they arrive; `close()` hangs up. */
export async function openStream(o: { port: number; caPem: string; server: { role: string; id: string } }, who: OperatorCert, path: string): Promise<{ status: number; contentType: string; messages: SseMessage[]; close(): void }> {
  const material = await TlsMaterial.fromPem({ credentials: [{ certPem: who.certPem, keyPem: who.keyPem }], caPem: o.caPem });
  const tls = clientTlsOptions(material, 'console', { expect: o.server as { role: 'aggregator'; id: string } });
  const messages: SseMessage[] = [];
  return new Promise((resolve, reject) => {
    const req = https.request({ ...tls, host: '127.0.0.1', port: o.port, method: 'GET', path, agent: false }, (res: IncomingMessage) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const lines = block.split('\n');
          const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
          const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
          if (event && data !== undefined) messages.push({ event, data: JSON.parse(data) });
        }
      });
      res.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), messages, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}
