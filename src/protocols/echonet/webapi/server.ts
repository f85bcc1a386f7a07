/**
 * The device side of the ECHONET Lite Web API (./resources.ts for the resources): an HTTP request
 * handler serving the hosted objects of a node, for an https server with mutual TLS that the
 * caller builds (protocols do not hold certificates; the device role does, src/roles/device).
 * Every device request needs a bearer token from the OAuth 2.0 client credentials grant (RFC 6749
 * §4.4, client authenticated with HTTP Basic, §2.3.1); a Set goes through the object's own access
 * rules and Appendix table, as a SetC over UDP does.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../../core/clock.js';
import { InvalidInputError } from '../../../core/errors.js';
import type { EchonetObject } from '../object.js';
import { eojClass, type Eoj } from '../eoj.js';
import { classDefinition } from '../objects/index.js';
import {
  deviceIdOf, edtOfValue, eojOfDeviceId, epcOfPropertyName, ELAPI_PREFIX, ELAPI_TOKEN_PATH, propertyNameOf, valueFormOf, valueOf, type WebApiValue,
} from './resources.js';

/** An OAuth 2.0 client allowed to obtain tokens; the secret is kept as its SHA-256 only. */
export interface WebApiClientCredential {
  id: string;
  secret: string;
}

export interface WebApiServerOptions {
  /** The objects served, node profile included (EchonetNode: [node.profile, ...node.hosted()]). */
  objects: () => readonly EchonetObject[];
  clients: readonly WebApiClientCredential[];
  clock: Clock;
  /** Lifetime of an access token, ms (default 1 hour). */
  tokenTtlMs?: number;
  /** Told of every refused request (no secrets): the device role audits them. */
  onRefused?: (what: { status: number; reason: string; path: string }) => void;
}

const MAX_BODY = 8 * 1024;
const MAX_TOKENS = 10_000;

class HttpError extends Error {
  constructor(readonly status: number, readonly type: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        // Stop keeping it, let the rest drain, answer 413 and close (destroying the request would
        // close the socket before the client reads why).
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, 'rangeError', `request body exceeds ${MAX_BODY} bytes`, { connection: 'close' }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * @example
 *   const handler = webApiHandler({ objects: () => [node.profile, ...node.hosted()], clients: [{ id: 'gw1', secret }], clock });
 *   createMutualTlsServer({ material, profile: 'R5', audit, allowList: { roles: ['gateway'] } }, handler);
 */
export function webApiHandler(o: WebApiServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const ttl = o.tokenTtlMs ?? 3_600_000;
  const clients = new Map(o.clients.map((c) => [c.id, sha256(c.secret)]));
  const tokens = new Map<string, { clientId: string; expires: number }>();

  const issue = (req: IncomingMessage, body: string): unknown => {
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials') throw new HttpError(400, 'unsupported_grant_type', 'grant_type must be client_credentials');
    const basic = /^Basic ([A-Za-z0-9+/=]{1,1024})$/.exec(req.headers.authorization ?? '');
    const pair = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : '';
    const colon = pair.indexOf(':');
    const id = colon > 0 ? decodeURIComponent(pair.slice(0, colon)) : '';
    const secret = colon > 0 ? decodeURIComponent(pair.slice(colon + 1)) : '';
    const want = clients.get(id);
    if (!want || !timingSafeEqual(want, sha256(secret))) {
      throw new HttpError(401, 'invalid_client', 'client authentication failed', { 'www-authenticate': 'Basic realm="elapi"' });
    }
    const now = o.clock.now();
    for (const [t, v] of tokens) if (v.expires <= now || tokens.size >= MAX_TOKENS) tokens.delete(t);
    const token = randomBytes(32).toString('base64url');
    tokens.set(token, { clientId: id, expires: now + ttl });
    return { access_token: token, token_type: 'Bearer', expires_in: Math.floor(ttl / 1000) };
  };

  const authorise = (req: IncomingMessage): void => {
    const m = /^Bearer ([A-Za-z0-9_-]{20,200})$/.exec(req.headers.authorization ?? '');
    const t = m ? tokens.get(m[1]!) : undefined;
    if (!t || t.expires <= o.clock.now()) {
      throw new HttpError(401, 'unauthorized', m ? 'the access token is not valid (unknown or expired)' : 'a bearer access token is required', { 'www-authenticate': 'Bearer realm="elapi"' });
    }
  };

  const find = (id: string): EchonetObject => {
    let target: Eoj;
    try {
      target = eojOfDeviceId(id);
    } catch (err) {
      throw new HttpError(404, 'referenceError', (err as Error).message);
    }
    const obj = o.objects().find((x) => x.eoj === target);
    if (!obj) throw new HttpError(404, 'referenceError', `no device ${id}`);
    return obj;
  };

  const describe = (obj: EchonetObject) => ({
    id: deviceIdOf(obj.eoj),
    deviceType: classDefinition(eojClass(obj.eoj))?.name ?? 'unknown',
    eoj: `0x${deviceIdOf(obj.eoj).toUpperCase()}`,
  });

  const route = async (req: IncomingMessage): Promise<unknown> => {
    const url = new URL(req.url ?? '/', 'https://device');
    const method = req.method ?? 'GET';
    if (url.pathname === ELAPI_TOKEN_PATH) {
      if (method !== 'POST') throw new HttpError(405, 'methodNotAllowed', `${method} ${ELAPI_TOKEN_PATH}: use POST`);
      return issue(req, await readBody(req));
    }
    if (!url.pathname.startsWith(`${ELAPI_PREFIX}/devices`)) throw new HttpError(404, 'referenceError', `no resource ${url.pathname.slice(0, 100)}`);
    authorise(req);
    const parts = url.pathname.slice(ELAPI_PREFIX.length).split('/').filter(Boolean).map(decodeURIComponent);
    if (method !== 'GET' && !(method === 'PUT' && parts.length === 4)) throw new HttpError(405, 'methodNotAllowed', `${method} is not allowed on ${url.pathname.slice(0, 100)}`);
    if (parts.length === 1) return { devices: o.objects().map(describe) };
    const obj = find(parts[1]!);
    const maps = obj.propertyMaps();
    const known = new Set([...maps.get, ...maps.set]);
    if (parts.length === 2) {
      return { ...describe(obj), properties: [...known].sort((a, b) => a - b).map((epc) => ({ name: propertyNameOf(obj.eoj, epc), epc: `0x${epc.toString(16).toUpperCase().padStart(2, '0')}`, get: maps.get.includes(epc), set: maps.set.includes(epc), form: valueFormOf(obj.eoj, epc) })) };
    }
    if (parts[2] !== 'properties' || parts.length > 4) throw new HttpError(404, 'referenceError', `no resource ${url.pathname.slice(0, 100)}`);
    if (parts.length === 3) {
      const all: Record<string, WebApiValue> = {};
      for (const epc of maps.get) {
        const edt = obj.readForGet(epc);
        if (edt) all[propertyNameOf(obj.eoj, epc)] = valueOf(obj.eoj, epc, edt);
      }
      return all;
    }
    const name = parts[3]!;
    const epc = epcOfPropertyName(obj.eoj, name, known);
    if (epc === undefined || !known.has(epc)) throw new HttpError(404, 'referenceError', `device ${parts[1]} has no property ${name.slice(0, 60)}`);
    const canonical = propertyNameOf(obj.eoj, epc);
    if (method === 'GET') {
      const edt = obj.readForGet(epc);
      if (!edt) throw new HttpError(405, 'methodNotAllowed', `${canonical} cannot be read`);
      return { [canonical]: valueOf(obj.eoj, epc, edt) };
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'rangeError', 'the body is not JSON');
    }
    const given = (body ?? {}) as Record<string, unknown>;
    const value = given[canonical] ?? given[name];
    let edt: Uint8Array;
    try {
      edt = edtOfValue(obj.eoj, epc, value, canonical);
    } catch (err) {
      throw new HttpError(400, 'rangeError', (err as InvalidInputError).message);
    }
    const outcome = obj.applySet(epc, edt);
    if (!outcome.accepted) throw new HttpError(outcome.reason.includes('not settable') ? 405 : 400, outcome.reason.includes('not settable') ? 'methodNotAllowed' : 'rangeError', outcome.reason);
    return { [canonical]: valueOf(obj.eoj, epc, edt) };
  };

  return (req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers }).end(text);
    };
    route(req).then((body) => send(200, body), (err: unknown) => {
      if (res.headersSent) return;
      const e = err instanceof HttpError ? err : new HttpError(500, 'internalError', 'internal error');
      o.onRefused?.({ status: e.status, reason: e.message, path: (req.url ?? '').slice(0, 200) });
      send(e.status, { type: e.type, message: e.message }, e.headers);
    });
  };
}
