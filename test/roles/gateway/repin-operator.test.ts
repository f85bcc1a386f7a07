/**
 * Protected R5, the operator's side: an admitted battery whose node moves to another address is
 * refused there as a clone (source_changed) until the operator confirms the move with
 * `erab gateway repin` (a separate process calling POST /devices/<id>/repin with an operator
 * certificate, mutual TLS to the gateway's
 * operator listener). Then the pin is the new address, the decision is audited with the
 * operator and the reason, and commands reach the device there. A certificate that is not an
 * operator's, and a stale revision, are refused. Devices on loopback UDP (127.17.5.x).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { watts } from '../../../src/core/units.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/storage-battery.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';
import { runErab } from '../../secops/incidents/run-erab.js';

const GW = '127.17.5.1';
const OLD = '127.17.5.2';
const NEW = '127.17.5.3';

let pki: PkiWorld<'agg' | 'gw' | 'ops'>;
let gw: Gateway | undefined;
const audit = new MemoryAuditSink();
const sites: DeviceSite[] = [];

before(async () => {
  pki = await pkiWorld({ agg: 'aggregator:AGG1', gw: 'gateway:GW1', ops: 'operator:op-sato' }, { prefix: 'erab-repin-' });
});

after(async () => {
  await gw?.close();
  for (const s of sites) await s.close();
  await pki?.close();
});

test('erab gateway repin moves the R5 pin of an admitted device after a refused source change; audited; commands follow', async () => {
  const first = await DeviceSite.start({ address: OLD, serialPrefix: 'REPIN1', battery: { initialSocPercent: 70 } }, { realtime: false });
  sites.push(first);
  const config = gatewayConfigSchema.parse({
    gatewayId: 'GW1',
    database: join(pki.dir, 'gw.db'),
    tls: pki.tlsFiles('gw'),
    // No VTN is needed here: the gateway keeps retrying its registration in the background.
    aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:9', certificateFile: pki.get('agg').files.certFile },
    echonet: { address: GW, devices: [OLD], pollMs: 60_000 },
    admission: { allowList: [{ serialNumber: 'REPIN1' }] },
    operator: { port: 0, operators: ['op-sato'] },
  });
  gw = await Gateway.start(config, { audit });
  const battery = gw.admission.list().find((r) => r.class === 'battery')!;
  assert.equal(battery.state, 'admitted');
  assert.equal(battery.address, OLD);

  // The node comes back at another address (a new DHCP lease): the same identity from a new source.
  await first.close();
  const moved = await DeviceSite.start({ address: NEW, serialPrefix: 'REPIN1', battery: { initialSocPercent: 70 } }, { realtime: false });
  sites.push(moved);
  await gw.site.identify(NEW);
  assert.ok(audit.records.some((r) => r.action === 'gateway.security.source_changed' && r.target === battery.deviceId), 'the move is refused and audited until the operator decides');
  assert.equal(gw.admission.get(battery.deviceId)!.address, OLD);

  const ops = pki.get('ops');
  const asOperator = ['--cert', ops.files.certFile, '--key', ops.files.keyFile, '--ca', pki.caFile];
  const base = ['gateway', 'repin', '--gateway', gw.operatorUrl!, '--device', battery.deviceId, '--address', NEW, '--reason', 'new DHCP lease after a router swap'];

  // Not an operator: the listener refuses the gateway's own certificate, nothing changes.
  const g = pki.get('gw');
  const notOperator = await runErab([...base, '--cert', g.files.certFile, '--key', g.files.keyFile, '--ca', pki.caFile]);
  assert.equal(notOperator.code, 1, notOperator.stdout);
  assert.match(notOperator.stderr, /repin refused: .* operator certificates only/);
  // An address that is neither an IP address nor a Web API URL is refused (400).
  const badAddress = await runErab(['gateway', 'repin', '--gateway', gw.operatorUrl!, '--device', battery.deviceId, '--address', '127.17.5.3;rm', '--reason', 'typo', ...asOperator]);
  assert.equal(badAddress.code, 1);
  assert.match(badAddress.stderr, /HTTP 400.*body\.address: must be the IPv4 or IPv6 address/);
  // A decision on a record that changed meanwhile is refused (409).
  const stale = await runErab([...base, '--revision', String(battery.revision + 5), ...asOperator]);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /HTTP 409.*stale/);
  assert.equal(gw.admission.get(battery.deviceId)!.address, OLD);

  const done = await runErab([...base, '--revision', String(battery.revision), ...asOperator]);
  assert.equal(done.code, 0, `${done.stdout}\n${done.stderr}`);
  assert.match(done.stdout, new RegExp(`repinned from ${OLD.replace(/\./g, '\\.')} to ${NEW.replace(/\./g, '\\.')} \\(revision ${battery.revision + 1}\\); identified there`));
  const rec = gw.admission.get(battery.deviceId)!;
  assert.deepEqual([rec.address, rec.state, rec.revision], [NEW, 'admitted', battery.revision + 1]);
  const decision = audit.records.find((r) => r.action === 'gateway.device.repinned');
  assert.deepEqual([decision?.actor.kind, decision?.actor.id, decision?.reason, decision?.details], ['operator', 'op-sato', 'new DHCP lease after a router swap', { from: OLD, to: NEW }]);

  // Commands now reach the device at its new pin.
  await gw.site.poll();
  assert.equal(gw.site.reading(battery.deviceId)?.online, true);
  await gw.site.execute({ deviceId: battery.deviceId, class: 'battery', action: 'discharge', powerW: watts(800) }, undefined);
  assert.equal(moved.battery!.object.get(StorageBattery.props.operationMode), 'discharging');
});
