/**
 * The controller side of the ECHONET Lite Web API (./resources.ts): reads and sets the properties
 * of a device reached over IP beyond the home LAN, with the same results as the UDP controller
 * (PropertyResult per EPC, `ok` false where the device refused), so the gateway drives it the
 * same way (src/roles/gateway/echonet-site.ts). TLS options (the client certificate of mutual TLS,
 * the CA, the expected server) come from the caller; the OAuth 2.0 access token is obtained with
 * the client credentials grant and renewed when it expires or is refused.
 */
import * as https from 'node:https';
import type * as tls from 'node:tls';
import type { Clock } from '../../../core/clock.js';
import { InvalidInputError } from '../../../core/errors.js';
import { readNode, type PropertyResult, type RemoteNode } from '../controller.js';
import type { Eoj } from '../eoj.js';
import type { Property } from '../frame.js';
import { deviceIdOf, edtOfValue, ELAPI_PREFIX, ELAPI_TOKEN_PATH, propertyNameOf, valueOf } from './resources.js';

export interface WebApiClientOptions {
  /**
   * TLS options with our client certificate (mutual TLS) and the server check, e.g.
   * clientTlsOptions(...); or, per node, a function of its base URL (to expect each node's own
   * device certificate, `device:<id>`).
   */
  tls: tls.ConnectionOptions | ((address: string) => tls.ConnectionOptions);
  clientId: string;
  clientSecret: string;
  clock: Clock;
  /** Per request, ms (default 10 000). */
  timeoutMs?: number;
}

const MAX_REPLY = 256 * 1024;

/** The base URL of a Web API node ("https://host:port"); anything else is refused. */
export function parseWebApiBase(base: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new InvalidInputError(`Web API address "${base.slice(0, 200)}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw new InvalidInputError(`Web API address ${base.slice(0, 200)} must be https:// (mutual TLS)`);
  return url;
}

/** True when a device address names a Web API node rather than an ECHONET Lite node on UDP. */
export const isWebApiAddress = (address: string): boolean => address.startsWith('https://');

/**
 * @example
 *   const client = new WebApiClient({ tls: clientTlsOptions(material, 'R5'), clientId: 'gw1', clientSecret, clock });
 *   const node = await client.identify('https://192.0.2.10:8443');
 *   await client.setProperties(node.address, node.instances[0], [{ epc: 0xda, edt: Uint8Array.of(0x43) }]);
 */
export class WebApiClient {
  private token: { value: string; expires: number } | undefined;
  private readonly agent: https.Agent;
  private readonly known = new Map<string, RemoteNode>();

  private readonly tlsFor: (address: string) => tls.ConnectionOptions;

  constructor(private readonly o: WebApiClientOptions) {
    const given = o.tls;
    this.tlsFor = typeof given === 'function' ? given : () => given;
    // The TLS options travel with each request (the agent pools sockets per host, port and certificate).
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  }

  /** What identification found at a base URL. */
  node(address: string): RemoteNode | undefined {
    return this.known.get(address);
  }

  /** Identifies the node at `address` through its node profile resource, as the UDP controller does. */
  async identify(address: string): Promise<RemoteNode> {
    const node = await readNode(address, (deoj, epcs) => this.getProperties(address, deoj, epcs), this.o.clock.now());
    this.known.set(address, node);
    return node;
  }

  /** Reads every readable property of the device once and picks `epcs`; missing ones come back not ok. */
  async getProperties(address: string, deoj: Eoj, epcs: number[]): Promise<PropertyResult[]> {
    const r = await this.call(address, 'GET', `${ELAPI_PREFIX}/devices/${deviceIdOf(deoj)}/properties`);
    if (r.status !== 200) throw new InvalidInputError(`Web API ${address} device ${deviceIdOf(deoj)}: HTTP ${r.status} ${describe(r.json)}`);
    const values = (r.json ?? {}) as Record<string, unknown>;
    return epcs.map((epc) => {
      const v = values[propertyNameOf(deoj, epc)];
      if (v === undefined) return { epc, edt: new Uint8Array(0), ok: false };
      try {
        return { epc, edt: edtOfValue(deoj, epc, v, propertyNameOf(deoj, epc)), ok: true };
      } catch {
        return { epc, edt: new Uint8Array(0), ok: false };
      }
    });
  }

  /** One PUT per property; a refused one (4xx) comes back not ok, like a SetC_SNA. */
  async setProperties(address: string, deoj: Eoj, props: Property[]): Promise<PropertyResult[]> {
    const out: PropertyResult[] = [];
    for (const p of props) {
      const name = propertyNameOf(deoj, p.epc);
      const r = await this.call(address, 'PUT', `${ELAPI_PREFIX}/devices/${deviceIdOf(deoj)}/properties/${encodeURIComponent(name)}`, { [name]: valueOf(deoj, p.epc, p.edt) });
      if (r.status >= 500) throw new InvalidInputError(`Web API ${address}: HTTP ${r.status} ${describe(r.json)}`);
      out.push({ epc: p.epc, edt: r.status === 200 ? new Uint8Array(0) : Uint8Array.from(p.edt), ok: r.status === 200 });
    }
    return out;
  }

  close(): void {
    this.agent.destroy();
  }

  private async accessToken(address: string, renew: boolean): Promise<string> {
    if (!renew && this.token && this.token.expires > this.o.clock.now() + 5000) return this.token.value;
    const basic = Buffer.from(`${encodeURIComponent(this.o.clientId)}:${encodeURIComponent(this.o.clientSecret)}`).toString('base64');
    const r = await this.send(address, 'POST', ELAPI_TOKEN_PATH, 'grant_type=client_credentials', { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' });
    const t = r.json as { access_token?: unknown; token_type?: unknown; expires_in?: unknown } | undefined;
    if (r.status !== 200 || typeof t?.access_token !== 'string' || String(t.token_type).toLowerCase() !== 'bearer') {
      throw new InvalidInputError(`Web API ${address}: no access token (HTTP ${r.status} ${describe(r.json)})`);
    }
    const ttl = typeof t.expires_in === 'number' && t.expires_in > 0 ? t.expires_in * 1000 : 60_000;
    this.token = { value: t.access_token, expires: this.o.clock.now() + ttl };
    return t.access_token;
  }

  /** A device request with the bearer token, renewed once when the server refuses it (401). */
  private async call(address: string, method: 'GET' | 'PUT', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = (token: string) => ({ authorization: `Bearer ${token}`, ...(text ? { 'content-type': 'application/json' } : {}) });
    let r = await this.send(address, method, path, text, headers(await this.accessToken(address, false)));
    if (r.status === 401) r = await this.send(address, method, path, text, headers(await this.accessToken(address, true)));
    return r;
  }

  private send(address: string, method: string, path: string, text: string | undefined, headers: Record<string, string>): Promise<{ status: number; json: unknown }> {
    const url = parseWebApiBase(address);
    const timeout = this.o.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const req = https.request({
        ...this.tlsFor(address), agent: this.agent, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 443, method, path, timeout,
        headers: { accept: 'application/json', ...headers, ...(text ? { 'content-length': Buffer.byteLength(text) } : {}) },
      }, (res) => {
        let out = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          out += c;
          if (out.length > MAX_REPLY) res.destroy(new InvalidInputError(`Web API reply from ${address} larger than ${MAX_REPLY} bytes`));
        });
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: out ? JSON.parse(out) as unknown : undefined });
          } catch {
            reject(new InvalidInputError(`Web API reply from ${address}${path} is not JSON (HTTP ${res.statusCode ?? '?'})`));
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new InvalidInputError(`Web API ${address}: no reply within ${timeout} ms`)));
      req.on('error', reject);
      req.end(text);
    });
  }
}

function describe(json: unknown): string {
  const e = json as { type?: unknown; message?: unknown } | undefined;
  return typeof e?.message === 'string' ? `${String(e.type ?? '')}: ${e.message.slice(0, 200)}` : '';
}
