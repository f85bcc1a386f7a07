/**
 * The ECHONET Lite Web API resources over real HTTPS with mutual TLS (src/protocols/echonet/webapi):
 * the OAuth 2.0 client credentials grant and bearer tokens that expire on the injected clock,
 * and every hostile or malformed request refused with the status and message that name the
 * rule, the device untouched. The server listens on 127.0.0.1 (port 0).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import type { Server } from 'node:https';
import { ManualClock } from '../../../src/core/clock.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial, clientTlsOptions, createMutualTlsServer } from '../../../src/security/tls.js';
import { ObjectHost } from '../../../src/protocols/echonet/object-host.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/index.js';
import { webApiHandler, WebApiClient } from '../../../src/protocols/echonet/webapi/index.js';
import { eoj } from '../../../src/protocols/echonet/eoj.js';
import { BatterySimulator } from '../../../src/roles/device/battery.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';

const clock = new ManualClock(Date.UTC(2026, 6, 1));
const battery = new BatterySimulator({ capacityWh: 9800, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 50 }, { makerCode: 0xfffffe, productCode: 'ERAB-BAT', productionNumber: 'WEBAPI1' });
const host = new ObjectHost([battery.object], { makerCode: 0xfffffe, productionNumber: 'WEBAPI1' }, 'WEBAPI1');
let pki: PkiWorld<'dev' | 'gw'>;
let server: Server;
let base: string;
let tls: ReturnType<typeof clientTlsOptions>;

before(async () => {
  pki = await pkiWorld({ dev: 'device:DEV1', gw: 'gateway:GW1' }, { prefix: 'erab-webapi-res-' });
  const m = (n: 'dev' | 'gw') => TlsMaterial.fromPem({ credentials: [{ certPem: pki.get(n).certPem, keyPem: pki.get(n).keyPem }], caPem: pki.caPem });
  const handler = webApiHandler({ objects: () => [host.profile, ...host.hosted()], clients: [{ id: 'GW1', secret: 's3cret' }], clock, tokenTtlMs: 60_000 });
  ({ server } = createMutualTlsServer({ material: await m('dev'), profile: 'R5', audit: new MemoryAuditSink(), allowList: { participants: ['gateway:GW1'] } }, handler));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  tls = clientTlsOptions(await m('gw'), 'R5', { expect: { role: 'device', id: 'DEV1' } });
});

after(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await pki?.close();
});

function call(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Record<string, unknown> }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = https.request({ ...tls, host: u.hostname, port: u.port, method, path, agent: false, headers: { ...headers, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) } }, (res) => {
      let out = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (out += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: out ? JSON.parse(out) : undefined, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function token(secret = 's3cret'): Promise<{ status: number; json: any }> {
  return call('POST', '/elapi/oauth/token', 'grant_type=client_credentials', { authorization: `Basic ${Buffer.from(`GW1:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' });
}

test('client credentials give a bearer token; devices and properties are served by MRA name, the battery\'s main ones typed, the rest raw', async () => {
  const t = await token();
  assert.equal(t.status, 200);
  assert.equal(t.json.token_type, 'Bearer');
  assert.equal(t.json.expires_in, 60);
  const auth = { authorization: `Bearer ${t.json.access_token}` };
  const list = await call('GET', '/elapi/v1/devices', undefined, auth);
  assert.deepEqual(list.json.devices.map((d: { id: string }) => d.id), ['0ef001', '027d01']);
  assert.equal(list.json.devices[1].deviceType, 'storageBattery');
  const one = await call('GET', '/elapi/v1/devices/027d01/properties/operationMode', undefined, auth);
  assert.deepEqual(one.json, { operationMode: battery.object.get(StorageBattery.props.operationMode) }, 'a state by its name');
  const byEpc = await call('GET', '/elapi/v1/devices/027d01/properties/0xE4', undefined, auth);
  assert.deepEqual(byEpc.json, { remainingCapacity3: 50 }, '0xE4 by EPC, answered under its MRA name, in %');
  const json = { ...auth, 'content-type': 'application/json' };
  const set = await call('PUT', '/elapi/v1/devices/027d01/properties/operationMode', JSON.stringify({ operationMode: '43' }), json);
  assert.deepEqual([set.status, set.json], [200, { operationMode: 'discharging' }], 'the raw form is still accepted on a typed property');
  assert.equal(battery.object.get(StorageBattery.props.operationMode), 'discharging');
  const typed = await call('PUT', '/elapi/v1/devices/027d01/properties/operationMode', JSON.stringify({ operationMode: 'charging' }), json);
  assert.deepEqual([typed.status, typed.json], [200, { operationMode: 'charging' }]);
  assert.equal(battery.object.get(StorageBattery.props.operationMode), 'charging');
  const power = await call('PUT', '/elapi/v1/devices/027d01/properties/chargingPower', JSON.stringify({ chargingPower: 1500 }), json);
  assert.equal(power.status, 200, JSON.stringify(power.json));
  assert.equal(battery.object.get(StorageBattery.props.chargingPowerSetting), 1500, 'a power in W');
  const all = await call('GET', '/elapi/v1/devices/027d01/properties', undefined, auth);
  assert.equal(all.json.operationStatus, true, 'operationStatus as a boolean');
  assert.equal(typeof all.json.instantaneousChargingAndDischargingElectricPower, 'number');
  assert.match(all.json.installationLocation, /^[0-9A-F]{2}$/, 'a property outside the typed set stays raw');
  const description = await call('GET', '/elapi/v1/devices/027d01', undefined, auth);
  const forms = Object.fromEntries(description.json.properties.map((p: { name: string; form: string }) => [p.name, p.form]));
  assert.deepEqual([forms.operationMode, forms.remainingCapacity3, forms.installationLocation], ['typed', 'typed', 'raw']);
  const back = await call('PUT', '/elapi/v1/devices/027d01/properties/operationMode', JSON.stringify({ operationMode: 'discharging' }), json);
  assert.equal(back.status, 200);
});

test('hostile and malformed requests are refused with a status and a message naming the rule; the device is untouched', async () => {
  const auth = { authorization: `Bearer ${(await token()).json.access_token}` };
  const mode = () => battery.object.get(StorageBattery.props.operationMode);
  const before = mode();
  const cases: [string, string, string | undefined, number, RegExp][] = [
    ['GET', '/elapi/v1/devices/zz;drop/properties', undefined, 404, /not an EOJ in hex/],
    ['GET', '/elapi/v1/devices/013001/properties', undefined, 404, /no device 013001/],
    ['GET', '/elapi/v1/devices/027d01/properties/noSuchProperty', undefined, 404, /has no property noSuchProperty/],
    ['PUT', '/elapi/v1/devices/027d01/properties/operationMode', '{"operationMode": 67}', 400, /"67" is not one of enumeration/],
    ['PUT', '/elapi/v1/devices/027d01/properties/operationMode', '{"operationMode": "4"}', 400, /"4" is not one of enumeration .* or the EDT as hex/],
    ['PUT', '/elapi/v1/devices/027d01/properties/operationMode', '{"operationMode": null}', 400, /must be enumeration .*, or the EDT as hex/],
    ['PUT', '/elapi/v1/devices/027d01/properties/operationStatus', '{"operationStatus": "yes"}', 400, /"yes" is not one of .*must be true or false/],
    ['PUT', '/elapi/v1/devices/027d01/properties/chargingPower', '{"chargingPower": 1.5}', 400, /1\.5 is not an integer/],
    ['PUT', '/elapi/v1/devices/027d01/properties/chargingPower', '{"chargingPower": -1}', 400, /-1 is outside 0–999999999 W/],
    ['PUT', '/elapi/v1/devices/027d01/properties/installationLocation', '{"installationLocation": 67}', 400, /must be the EDT as hex/],
    ['PUT', '/elapi/v1/devices/027d01/properties/operationMode', 'not json', 400, /not JSON/],
    ['PUT', '/elapi/v1/devices/027d01/properties/operationMode', '{"operationMode": "99"}', 400, /0x99 is not one of/],
    ['PUT', '/elapi/v1/devices/027d01/properties/remainingCapacity3', '{"remainingCapacity3": "10"}', 405, /not settable/],
    ['DELETE', '/elapi/v1/devices/027d01', undefined, 405, /DELETE is not allowed/],
    ['PUT', '/elapi/v1/devices/027d01/properties/operationMode', JSON.stringify({ operationMode: '42'.repeat(5000) }), 413, /exceeds 8192 bytes/],
  ];
  for (const [method, path, body, status, message] of cases) {
    const r = await call(method, path, body, { ...auth, 'content-type': 'application/json' });
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.json)}`);
    assert.match(r.json.message, message, `${method} ${path}`);
  }
  assert.equal(mode(), before);
});

test('no token, a wrong secret, a wrong grant and an expired token are refused (401/400); the client renews an expired token itself', async () => {
  const anonymous = await call('GET', '/elapi/v1/devices');
  assert.equal(anonymous.status, 401);
  assert.match(String(anonymous.headers['www-authenticate']), /^Bearer/);
  assert.equal((await token('guess')).status, 401);
  const grant = await call('POST', '/elapi/oauth/token', 'grant_type=password&username=a&password=b', { authorization: `Basic ${Buffer.from('GW1:s3cret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' });
  assert.deepEqual([grant.status, grant.json.type], [400, 'unsupported_grant_type']);
  const t = (await token()).json.access_token as string;
  clock.advance(61_000);
  const expired = await call('GET', '/elapi/v1/devices', undefined, { authorization: `Bearer ${t}` });
  assert.deepEqual([expired.status, expired.json.message], [401, 'the access token is not valid (unknown or expired)']);
  // The client holds a token past its expiry on another clock, is refused, and asks for a new one.
  const client = new WebApiClient({ tls, clientId: 'GW1', clientSecret: 's3cret', clock: new ManualClock(Date.UTC(2026, 6, 1)) });
  try {
    const [soc] = await client.getProperties(base, eoj(0x027d, 1), [0xe4]);
    assert.deepEqual([soc!.ok, [...soc!.edt]], [true, [50]]);
    clock.advance(120_000);
    const [again] = await client.getProperties(base, eoj(0x027d, 1), [0xe4]);
    assert.equal(again!.ok, true, 'renewed after a 401');
  } finally {
    client.close();
  }
});
