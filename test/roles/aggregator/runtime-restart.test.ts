/**
 * The aggregator restarts on its store: the gateway's registration, its declared data points and
 * the poll queue survive, so the gateway (the real gateway role, ECHONET Lite over UDP) carries
 * on without registering again and its telemetry is understood at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { Gateway } from '../../../src/roles/gateway/gateway.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { localGatewayConfig, pkiWorld, waitFor as until } from '../../kit/index.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}


test('restart: registrations and data points come back from the store; the gateway does not register again', { timeout: 120_000 }, async () => {
  const pki = await pkiWorld({ agg: 'aggregator:AGG1', gw: 'gateway:GW1' }, { prefix: 'erab-agg-restart-', flatFiles: true });
  const dir = pki.dir; // holds ca.pem, agg.pem/.key, gw.pem/.key (flatFiles)
  const net = `${64 + Math.floor(Math.random() * 190)}.${1 + Math.floor(Math.random() * 250)}`;
  const port = await freePort();
  const cfg = parseAggregatorConfig({
    id: 'AGG1',
    tls: { certFile: join(dir, 'agg.pem'), keyFile: join(dir, 'agg.key'), caFile: join(dir, 'ca.pem') },
    store: { url: join(dir, 'aggregator.db') },
    downstream: { port, allowList: { participants: ['gateway:GW1'] }, pollIntervalMs: 200, reportIntervalMs: 1000 },
    closedLoop: { intervalMs: 500, telemetryMaxAgeMs: 5000 },
  });
  const audit = new MemoryAuditSink();
  const site = await DeviceSite.start({ address: `127.${net}.2`, speed: 1, tickMs: 200, serialPrefix: 'R1', battery: { initialSocPercent: 60 } });
  let a: RunningAggregator | undefined = await startAggregator(cfg, { audit, clock: systemClock });
  let g: Gateway | undefined;
  try {
    g = await Gateway.start(localGatewayConfig({ dir, port, net: `127.${net}`, serialPrefixes: ['R1'], engineTickMs: 500 }), { clock: systemClock, audit });
    const battery = () => a!.fleet.all().find((r) => r.resourceClass === 'battery');
    const first = await until('battery telemetry before the restart', () => { const b = battery(); return b && a!.engine.freshPower(b.id) !== undefined ? b : undefined; });
    const registrationID = g.ven.registration!.registrationID;

    await a.stop();
    a = undefined;
    await new Promise((r) => setTimeout(r, 1500));
    a = await startAggregator(cfg, { audit, clock: systemClock });
    assert.deepEqual(a.downstream.gateways().map((x) => x.venId), ['GW1'], 'the registration came back from the store');
    assert.ok(a.fleet.spec(first.id), 'the data points were relearned from the stored METADATA');
    await until('battery telemetry after the restart', () => { const b = battery(); return b && a!.engine.freshPower(b.id) !== undefined ? b : undefined; }, 60_000);
    assert.equal(g.ven.registration!.registrationID, registrationID, 'the gateway did not register again');
  } finally {
    await g?.close();
    await a?.stop();
    await site.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
