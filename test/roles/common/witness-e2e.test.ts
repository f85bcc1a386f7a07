/**
 * Witnessing in normal operation, over real sockets on loopback: a TSO (startTso, its VTN on the
 * lean HTTP/1 server), an aggregator (startAggregator: downstream VTN on node:https, upstream VEN
 * to the TSO) and a gateway (Gateway.start with a simulated battery over ECHONET Lite), each with
 * its own tamper-evident audit log and nothing injected. While the gateway registers and reports,
 * it hands its checkpoints to the aggregator, and the aggregator hands its own to the TSO; each
 * witness cosigns, both sides keep the cosigned checkpoint, and `erab audit verify --witness`
 * accepts the logs against them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock.js';
import { tsoConfigSchema } from '../../../src/roles/tso/config.js';
import { startTso, type RunningTso } from '../../../src/roles/tso/tso.js';
import { parseAggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { main } from '../../../src/cli/main.js';
import { pkiWorld, waiter } from '../../kit/index.js';

/** The kit's waitFor with this file's budget. */
const until = waiter({ timeoutMs: 60_000, intervalMs: 50 });

test('gateway → aggregator → TSO: checkpoints are witnessed while the roles run, and verify against the cosigned copies', { timeout: 180_000 }, async () => {
  const pki = await pkiWorld({ TSO1: 'tso:TSO1', AGG1: 'aggregator:AGG1', GW1: 'gateway:GW1' }, { prefix: 'erab-witness-e2e-', flatFiles: true });
  const dir = pki.dir; // holds ca.pem and <id>.pem/.key (flatFiles)
  const net = `127.${64 + Math.floor(Math.random() * 190)}.${1 + Math.floor(Math.random() * 250)}`;
  const tlsOf = (id: string) => ({ certFile: join(dir, `${id}.pem`), keyFile: join(dir, `${id}.key`), caFile: join(dir, 'ca.pem') });
  let tso: RunningTso | undefined;
  let agg: RunningAggregator | undefined;
  let gw: Gateway | undefined;
  let site: DeviceSite | undefined;
  try {
    tso = await startTso(tsoConfigSchema.parse({
      id: 'TSO1', tls: tlsOf('TSO1'), listen: { port: 0 }, store: { url: join(dir, 'tso.db') }, audit: { dir: join(dir, 'tso-audit') },
      contractedAggregators: [{ id: 'AGG1' }], pollIntervalMs: 200, reportIntervalMs: 1000,
    }));
    agg = await startAggregator(parseAggregatorConfig({
      id: 'AGG1', tls: tlsOf('AGG1'), store: { url: join(dir, 'agg.db') },
      audit: { dir: join(dir, 'agg-audit'), witnessIntervalMs: 500 },
      downstream: { host: '127.0.0.1', port: 0, allowList: { participants: ['gateway:GW1'] }, pollIntervalMs: 200, reportIntervalMs: 1000 },
      upstream: [{ name: 'tso', kind: 'tso', vtnUrl: tso.vtn.url, expect: { role: 'tso', id: 'TSO1' }, pollIntervalMs: 200, reportMinPeriodMs: 1000 }],
    }), { clock: systemClock });
    site = await DeviceSite.start({ address: `${net}.2`, speed: 1, tickMs: 100, serialPrefix: 'W0', battery: { capacityWh: 10_000, maxChargeW: 3000, maxDischargeW: 3000, initialSocPercent: 80 } });
    gw = await Gateway.start(gatewayConfigSchema.parse({
      gatewayId: 'GW1', database: join(dir, 'gw.db'), audit: { dir: join(dir, 'gw-audit'), witnessIntervalMs: 500 }, tls: tlsOf('GW1'),
      aggregator: { id: 'AGG1', vtnUrl: `https://127.0.0.1:${agg.downstreamPort}`, certificateFile: join(dir, 'AGG1.pem') },
      echonet: { address: `${net}.1`, devices: [`${net}.2`], pollMs: 500, timeoutMs: 2000, retries: 1 },
      telemetry: { minPeriodMs: 1000 },
      admission: { allowList: [{ serialNumber: 'W00' }] },
    }), { clock: systemClock });

    // Normal operation: the gateway is registered and reporting, the aggregator registered upstream.
    await until('the gateway reporting to the aggregator', () => agg!.status().gateways.find((g) => g.venId === 'GW1' && g.lastReportAt !== undefined));
    await until('the aggregator registered at the TSO', () => tso!.vtn.vtn.registrations().some((r) => r.venID === 'AGG1'));

    // Witnessing happens alongside, twice at least (a second cosignature extends the first).
    const gwW = gw.witnessing!;
    const aggW = agg.upstream[0]!.witnessed!;
    assert.ok(gwW && aggW, 'both participants hand their checkpoints upstream');
    let gwSizes: number[] = [];
    let aggSizes: number[] = [];
    await until('two cosignatures each', () => {
      if (gwW.last?.outcome === 'cosigned' && !gwSizes.includes(gwW.last.size)) gwSizes = [...gwSizes, gwW.last.size];
      if (aggW.last?.outcome === 'cosigned' && !aggSizes.includes(aggW.last.size)) aggSizes = [...aggSizes, aggW.last.size];
      return gwSizes.length >= 2 && aggSizes.length >= 2;
    });
    assert.equal(gwW.last?.outcome === 'refused', false, JSON.stringify(gwW.last));
    assert.equal(aggW.last?.outcome === 'refused', false, JSON.stringify(aggW.last));
  } finally {
    await gw?.close().catch(() => {});
    await site?.close().catch(() => {});
    await agg?.stop().catch(() => {});
    await tso?.stop().catch(() => {});
  }
  try {
    // Both sides keep the cosigned checkpoint; the witnesses recorded the pins in their own logs.
    const atAgg = join(dir, 'agg-audit', 'witness', 'logs', 'gateway-GW1.checkpoint');
    const atGw = join(dir, 'gw-audit', 'witnessed', 'aggregator-AGG1.checkpoint');
    const atTso = join(dir, 'tso-audit', 'witness', 'logs', 'aggregator-AGG1.checkpoint');
    const atAggSide = join(dir, 'agg-audit', 'witnessed', 'tso-TSO1.checkpoint');
    for (const f of [atAgg, atGw, atTso, atAggSide]) assert.ok(existsSync(f), f);
    assert.match(readFileSync(atAgg, 'utf8'), /^erab\/gateway-GW1\/audit\n/);
    assert.match(readFileSync(atTso, 'utf8'), /^erab\/aggregator-AGG1\/audit\n/);
    const aggKey = readFileSync(join(dir, 'agg-audit', 'witness', 'cosigner.vkey'), 'utf8').trim();
    const tsoKey = readFileSync(join(dir, 'tso-audit', 'witness', 'cosigner.vkey'), 'utf8').trim();
    assert.match(aggKey, /^erab\/aggregator-AGG1\/audit\/witness\+[0-9a-f]{8}\+/);
    // The logs (closed, with their final checkpoints) extend what their witnesses cosigned.
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => { out.push(String(s)); return true; }) as typeof process.stdout.write;
    let codes: number[];
    try {
      codes = [
        await main(['node', 'erab', 'audit', 'verify', '--dir', join(dir, 'gw-audit'), '--witness', atAgg, '--witness-key', aggKey]),
        await main(['node', 'erab', 'audit', 'verify', '--dir', join(dir, 'agg-audit'), '--witness', atTso, '--witness-key', tsoKey]),
      ];
    } finally {
      process.stdout.write = write;
    }
    assert.deepEqual(codes, [0, 0], out.join(''));
    assert.match(out.join(''), /extends size \d+ cosigned by erab\/aggregator-AGG1\/audit\/witness/);
    assert.match(out.join(''), /extends size \d+ cosigned by erab\/tso\/TSO1\/audit\/witness/);
    // The pins are in the witnesses' own audit logs.
    const aggRecords = readFileSync(join(dir, 'agg-audit', 'segments', '000000000000.jsonl'), 'utf8');
    assert.match(aggRecords, /"action":"audit\.witness\.log_key_pinned".*"id":"GW1"|"id":"GW1".*"action":"audit\.witness\.log_key_pinned"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
