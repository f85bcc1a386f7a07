/**
 * Protected R5 beyond the home LAN: a device reached over IP through the ECHONET Lite Web API
 * (HTTPS with mutual TLS + an OAuth 2.0 bearer token from the client credentials grant) is
 * identified, admitted, read and dispatched by the gateway exactly like a device on UDP: a shed
 * (下げ) through the event engine discharges its battery. A client without a certificate, one
 * with a certificate from another CA, and one with a wrong client secret are refused, and the
 * device is never touched by them. Addresses 127.17.6.x.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, systemClock } from '../../../src/core/clock.js';
import { epochMillis } from '../../../src/core/units.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { TlsMaterial, clientTlsOptions } from '../../../src/security/tls.js';
import { EchonetController } from '../../../src/protocols/echonet/controller.js';
import { eoj } from '../../../src/protocols/echonet/eoj.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/index.js';
import { WebApiClient } from '../../../src/protocols/echonet/webapi/index.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { AdmissionRegistry, MemoryAdmissionStore } from '../../../src/roles/gateway/admission.js';
import { EchonetSite } from '../../../src/roles/gateway/echonet-site.js';
import { EventEngine } from '../../../src/roles/gateway/engine.js';
import { FailSafe, SafetyPolicy, sitePolicySchema } from '../../../src/roles/gateway/policy.js';
import { pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { watts } from '../../../src/core/units.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';

const T0 = Date.UTC(2026, 6, 15, 3);
const SECRET = 'webapi-client-secret-for-GW1';

let pki: PkiWorld<'gw' | 'remote' | 'agg' | 'impostor'>;
let foreign: PkiWorld<'gw'>;
let site: DeviceSite;
const deviceAudit = new MemoryAuditSink();

const material = (world: PkiWorld<string>, name: string) => TlsMaterial.fromPem({ credentials: [{ certPem: world.get(name).certPem, keyPem: world.get(name).keyPem }], caPem: world.caPem });

before(async () => {
  pki = await pkiWorld({ gw: 'gateway:GW1', agg: 'aggregator:AGG1', remote: { role: 'device', id: 'REMOTE-SITE-1', ip: ['127.17.6.2'] }, impostor: { role: 'gateway', id: 'GW-IMPOSTOR', ip: ['127.17.6.4'] } }, { prefix: 'erab-webapi-' });
  foreign = await pkiWorld({ gw: 'gateway:GW1' }, { prefix: 'erab-webapi-foreign-' });
  // The device's Web API node: its device certificate from the project CA; gateway certificates may connect.
  site = await DeviceSite.start({ address: '127.17.6.2', port: 0, startTime: T0, battery: { initialSocPercent: 80 } }, {
    realtime: false,
    webApi: { material: await material(pki, 'remote'), clients: [{ id: 'GW1', secret: SECRET }], audit: deviceAudit, allowList: { participants: ['gateway:GW1'] } },
  });
});

after(async () => {
  await site?.close();
  await pki?.close();
  await foreign?.close();
});

test('a Web API device is identified, admitted, read and dispatched through the gateway over mutual TLS with an OAuth 2.0 token', async () => {
  const url = site.webApiUrl!;
  assert.match(url, /^https:\/\/127\.17\.6\.2:\d+$/);
  const controller = await EchonetController.start({ address: '127.17.6.1', multicast: false, timeoutMs: 2000, retries: 1 });
  const webApi = new WebApiClient({ tls: clientTlsOptions(await material(pki, 'gw'), 'R5', { expect: { role: 'device', id: 'REMOTE-SITE-1' } }), clientId: 'GW1', clientSecret: SECRET, clock: systemClock });
  const audit = new MemoryAuditSink();
  const admission = new AdmissionRegistry(new MemoryAdmissionStore(), new ManualClock(), audit);
  const echonet = new EchonetSite({ controller, admission, clock: systemClock, addresses: [url], webApi });
  const clock = new ManualClock(T0);
  const cfg = sitePolicySchema.parse({ failSafe: { aggregatorTimeoutMs: 3_600_000, maxForcedWhileUnreachableMs: 7_200_000 } });
  const engine = new EventEngine({ clock, policy: new SafetyPolicy(cfg, clock), failSafe: new FailSafe(cfg.failSafe, clock), devices: echonet, port: echonet, audit, tickMs: 5000 });
  try {
    await echonet.discover();
    const rec = admission.list().find((r) => r.class === 'battery');
    assert.ok(rec, 'the battery behind the Web API is discovered');
    assert.equal(rec.address, url, 'and pinned to its Web API node');
    assert.equal(rec.state, 'pending', 'it waits for the operator like any device');
    admission.admit(rec.deviceId, rec.revision, 'op:test');
    site.advance(60_000);
    await echonet.poll();
    const reading = echonet.reading(rec.deviceId)!;
    assert.equal(reading.online, true);
    assert.equal(reading.socPercent, Math.round(site.battery!.socPercent()));
    assert.equal(reading.mode, site.battery!.object.get(StorageBattery.props.operationMode));

    // A shed (下げ) through the event engine: the battery discharges over the Web API.
    engine.accept({ eventID: 'shed', modificationNumber: 0, status: 'active', start: epochMillis(T0), durationMs: 30 * 60_000, target: { resourceID: [rec.deviceId] }, signals: [{ name: 'SIMPLE', type: 'level', intervals: [{ startOffsetMs: 0, durationMs: 30 * 60_000, value: 2 }] }] });
    await engine.idle();
    await waitFor(() => site.battery!.object.get(StorageBattery.props.operationMode) === 'discharging', { timeoutMs: 5000, what: 'battery discharging over the Web API' });
    site.advance(60_000);
    assert.ok(site.battery!.power() < 0, `discharging: ${site.battery!.power()} W`);

    // A value outside the Appendix table is refused by the device (like a SetC_SNA), not applied.
    const [bad] = await webApi.setProperties(url, eoj(0x027d, 1), [{ epc: 0xda, edt: Uint8Array.of(0x99) }]);
    assert.equal(bad!.ok, false);
    assert.equal(site.battery!.object.get(StorageBattery.props.operationMode), 'discharging');
  } finally {
    engine.close();
    webApi.close();
    await controller.close();
  }
});

test('the Web API refuses a client without a certificate, one from another CA, one not on the allow-list and a wrong client secret', async () => {
  const url = site.webApiUrl!;
  const battery = eoj(0x027d, 1);
  const attempt = async (client: WebApiClient): Promise<Error> => {
    try {
      await client.setProperties(url, battery, [{ epc: 0xda, edt: Uint8Array.of(0x42) }]);
      return new Error('not refused');
    } catch (err) {
      return err as Error;
    } finally {
      client.close();
    }
  };
  const gw = await material(pki, 'gw');
  const noCert = await attempt(new WebApiClient({ tls: { ca: pki.caPem }, clientId: 'GW1', clientSecret: SECRET, clock: systemClock }));
  assert.notEqual(noCert.message, 'not refused', 'no client certificate');
  const otherCa = await attempt(new WebApiClient({ tls: { cert: foreign.get('gw').certPem, key: foreign.get('gw').keyPem, ca: pki.caPem }, clientId: 'GW1', clientSecret: SECRET, clock: systemClock }));
  assert.notEqual(otherCa.message, 'not refused', 'a certificate from another CA');
  const remoteAsClient = await attempt(new WebApiClient({ tls: clientTlsOptions(await material(pki, 'remote'), 'R5'), clientId: 'GW1', clientSecret: SECRET, clock: systemClock }));
  assert.notEqual(remoteAsClient.message, 'not refused', 'a project certificate that is not on the allow-list');
  const wrongSecret = await attempt(new WebApiClient({ tls: clientTlsOptions(gw, 'R5'), clientId: 'GW1', clientSecret: 'guessed', clock: systemClock }));
  assert.match(wrongSecret.message, /no access token \(HTTP 401 invalid_client/);
  // Every attempt asked for charging (0x42), which nothing else in this file asks for.
  assert.notEqual(site.battery!.object.get(StorageBattery.props.operationMode), 'charging', 'the device was never set');
  assert.equal(deviceAudit.records.filter((r) => r.action === 'tls.refused').length, 3, 'the device refused the three handshakes, and audited them');
  assert.ok(deviceAudit.records.some((r) => r.action === 'echonet.webapi.refused' && r.details?.status === 401), 'the refused token request is audited');
});

test('a gateway configured with echonet.webApi reaches the device with its own certificate and the secret from its file', async () => {
  const secretFile = join(pki.dir, 'webapi.secret');
  writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  const base = {
    gatewayId: 'GW1', database: join(pki.dir, 'gw-webapi.db'), tls: pki.tlsFiles('gw'),
    // No VTN is needed here: the gateway keeps retrying its registration in the background.
    aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:9', certificateFile: pki.get('agg').files.certFile },
    operator: { port: 0, operators: ['op-sato'] },
  };
  assert.throws(() => gatewayConfigSchema.parse({ ...base, echonet: { address: '127.17.6.3', port: 0, webApi: { devices: ['http://127.17.6.2:80'], clientId: 'GW1', clientSecretFile: secretFile } } }), /https/);
  const config = gatewayConfigSchema.parse({
    ...base,
    echonet: { address: '127.17.6.3', port: 0, pollMs: 60_000, webApi: { devices: [site.webApiUrl!], clientId: 'GW1', clientSecretFile: secretFile } },
    admission: { allowList: [{ serialNumber: site.node.profile.get(site.node.profile.definition.props.productionNumber) as string }] },
  });
  const audit = new MemoryAuditSink();
  const gw = await Gateway.start(config, { audit });
  try {
    const rec = gw.admission.list().find((r) => r.class === 'battery');
    assert.ok(rec, 'discovered through the Web API at start');
    assert.deepEqual([rec.address, rec.state], [site.webApiUrl, 'admitted']);
    assert.equal(gw.site.reading(rec.deviceId)?.online, true);
    await gw.site.execute({ deviceId: rec.deviceId, class: 'battery', action: 'charge', powerW: watts(500) }, undefined);
    assert.equal(site.battery!.object.get(StorageBattery.props.operationMode), 'charging');
  } finally {
    await gw.close();
  }
});

test('the gateway reaches a Web API node only when it presents a device certificate (the configured device:<id> when named)', async () => {
  const secretFile = join(pki.dir, 'webapi-2.secret');
  writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  // A node on another address whose server certificate is a gateway's, not a device's.
  const impostor = await DeviceSite.start({ address: '127.17.6.4', port: 0, startTime: T0, battery: {} }, {
    realtime: false,
    webApi: { material: await material(pki, 'impostor'), clients: [{ id: 'GW1', secret: SECRET }], audit: new MemoryAuditSink(), allowList: { participants: ['gateway:GW1'] } },
  });
  const start = async (devices: unknown[], db: string) => {
    const audit = new MemoryAuditSink();
    const gw = await Gateway.start(gatewayConfigSchema.parse({
      gatewayId: 'GW1', database: join(pki.dir, db), tls: pki.tlsFiles('gw'),
      aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:9', certificateFile: pki.get('agg').files.certFile },
      operator: { port: 0, operators: ['op-sato'] },
      echonet: { address: '127.17.6.3', port: 0, pollMs: 60_000, timeoutMs: 2000, retries: 0, webApi: { devices, clientId: 'GW1', clientSecretFile: secretFile } },
    }), { audit });
    return { gw, audit };
  };
  try {
    assert.throws(() => gatewayConfigSchema.parse({ gatewayId: 'GW1', database: 'x.db', tls: pki.tlsFiles('gw'), aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:9', certificateFile: 'a.pem' }, echonet: { webApi: { devices: [{ url: site.webApiUrl, id: 'bad id' }], clientId: 'GW1', clientSecretFile: secretFile } } }), /echonet\.webApi\.devices|participant id/);
    // Named right: reached. Named wrong, or a gateway certificate: refused in the handshake and audited.
    const right = await start([{ url: site.webApiUrl!, id: 'REMOTE-SITE-1' }], 'gw-webapi-right.db');
    try {
      assert.ok(right.gw.admission.list().some((r) => r.address === site.webApiUrl), 'the named device is reached');
    } finally {
      await right.gw.close();
    }
    const wrong = await start([{ url: site.webApiUrl!, id: 'REMOTE-SITE-2' }, impostor.webApiUrl!], 'gw-webapi-wrong.db');
    try {
      assert.deepEqual(wrong.gw.admission.list(), [], 'neither node is discovered');
      const refused = wrong.audit.records.filter((r) => r.action === 'tls.server_refused').map((r) => r.reason ?? '');
      assert.ok(refused.some((r) => /server is device REMOTE-SITE-1, expected id REMOTE-SITE-2/.test(r)), refused.join(' | '));
      assert.ok(refused.some((r) => /server is a gateway, expected device/.test(r)), refused.join(' | '));
    } finally {
      await wrong.gw.close();
    }
  } finally {
    await impostor.close();
  }
});
