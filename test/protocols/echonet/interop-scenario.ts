/**
 * Interop scenario, run by interop.test.ts inside a network namespace it creates (lo up, multicast
 * on, a route for 224.0.0.0/4): the independent `echonet-lite` npm implementation and our stack
 * on one loopback.
 *
 * Why a namespace and this layout: echonet-lite binds 0.0.0.0:3610 (SO_REUSEADDR), joins
 * 224.0.23.0 on the default multicast interface, sends every datagram from a fresh socket bound
 * to 0.0.0.0:23610 and expects answers on port 3610. In the host namespace that would put
 * multicast on the machine's real interfaces, so it runs only in a namespace of ours. There it
 * effectively owns 127.0.0.1 (the wildcard socket); our controller binds 127.0.0.2:3610 and our
 * site 127.0.0.3:3610 (both with SO_REUSEADDR, which Linux requires to share the port with a
 * wildcard binding; unicast to .2/.3 goes to the more specific socket). Our nodes receive the
 * group traffic through a second socket bound to 224.0.23.0:3610.
 *
 * Prints one line "RESULT <json>" and exits.
 */
import Module, { createRequire } from 'node:module';
import { EchonetController } from '../../../src/protocols/echonet/controller.js';
import { eoj, formatEoj, type Eoj } from '../../../src/protocols/echonet/eoj.js';
import { instanceList } from '../../../src/protocols/echonet/datatypes.js';
import { sleep, waitFor } from '../../kit/wait.js';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { StorageBattery } from '../../../src/protocols/echonet/objects/index.js';

// echonet-lite 2.16.2 does `require('date-utils')` (Date formatting helpers for its debug log)
// without declaring the dependency in its package.json, so npm never installs it. It is never
// called with debugMode off; an empty module stands in so the library can load.
const moduleLoader = Module as unknown as { _load: (request: string, parent: unknown, isMain: boolean) => unknown };
const originalLoad = moduleLoader._load;
moduleLoader._load = function (request: string, parent: unknown, isMain: boolean): unknown {
  if (request === 'date-utils') return {};
  return originalLoad.call(this, request, parent, isMain);
};
const require = createRequire(import.meta.url);

interface Els { SEOJ: string; DEOJ: string; ESV: string; TID: string; DETAILs: Record<string, string> }
interface ElLib {
  GET: string; SETC: string; SETI: string;
  initialize(objList: string[], cb: (rinfo: { address: string; port: number }, els: Els, err?: unknown) => void, ipVer: number, opts: Record<string, unknown>): Promise<unknown>;
  replyGetDetail(rinfo: unknown, els: Els, details: Record<string, Record<string, number[]>>): Promise<void>;
  replySetDetail(rinfo: unknown, els: Els, details: Record<string, Record<string, number[]>>): Promise<void>;
  sendOPC1(ip: string, seoj: string, deoj: string, esv: string, epc: string, edt: string | number[]): unknown;
  search(): void;
  release(): void;
  toHexArray(s: string): number[];
}
const EL = require('echonet-lite') as ElLib;

const results: Record<string, unknown> = {};
const heard: { from: string; els: Els }[] = [];

// The device echonet-lite serves: a storage battery 027D01 (values set by this app, as the
// library's README device demo does), plus the library's own node profile handling.
const battery: Record<string, number[]> = {
  '80': [0x30], '81': [0x00], '82': [0x00, 0x00, 0x52, 0x00], '88': [0x42], '8a': [0x00, 0x00, 0x77],
  '9d': [0x03, 0x80, 0x81, 0xda], '9e': [0x03, 0x80, 0x81, 0xda], '9f': [0x0a, 0x80, 0x81, 0x82, 0x88, 0x8a, 0x9d, 0x9e, 0x9f, 0xda, 0xe4],
  'da': [0x44], 'e4': [0x37],
};
const devDetails = { '027d01': battery };
const VALID_MODES = new Set(['41', '42', '43', '44', '46']);

function onEl(rinfo: { address: string; port: number }, els: Els, err?: unknown): void {
  if (err || !els) return;
  heard.push({ from: rinfo.address, els });
  if (els.DEOJ.toLowerCase() !== '027d01') return;
  switch (els.ESV) {
    case EL.GET:
      void EL.replyGetDetail(rinfo, els, devDetails);
      break;
    case EL.SETC:
    case EL.SETI: {
      // The app validates and stores; replySetDetail answers Set_Res / SetC_SNA from what it finds.
      const accepted: Record<string, string> = {};
      for (const [epc, edt] of Object.entries(els.DETAILs)) if (epc === 'da' && VALID_MODES.has(edt)) accepted[epc] = edt;
      const filtered = { '027d01': Object.fromEntries(Object.entries(battery).filter(([k]) => !(k in els.DETAILs) || k in accepted)) };
      for (const [epc, edt] of Object.entries(accepted)) battery[epc] = EL.toHexArray(edt);
      void EL.replySetDetail(rinfo, els, filtered);
      break;
    }
    default:
      break;
  }
}

/** The first frame echonet-lite heard that matches `pred` (the kit's waitFor, every 10 ms). */
const heardFrom = (pred: (h: { from: string; els: Els }) => boolean, ms = 5000): Promise<{ from: string; els: Els }> =>
  waitFor(() => heard.find(pred), { what: 'a frame at echonet-lite', timeoutMs: ms, intervalMs: 10 });

const BAT = eoj(0x027d, 1);

async function main(): Promise<void> {
  await EL.initialize(['05ff01', '027d01'], onEl, 4, { v4: '', ignoreMe: true, autoGetProperties: false, debugMode: false });
  await sleep(300);
  const mc = { interfaceAddress: '127.0.0.1' };
  const controller = await EchonetController.start({ address: '127.0.0.2', multicast: mc, reuseAddr: true, timeoutMs: 3000, retries: 1 });
  const site = await DeviceSite.start({ address: '127.0.0.3', multicast: mc, reuseAddr: true, startTime: Date.UTC(2026, 5, 21, 3), battery: { initialSocPercent: 50 }, pv: {}, meter: {} }, { realtime: false });
  try {
    // ---- Direction A: our controller discovers, reads and sets the device echonet-lite serves.
    const found = await controller.discover({ multicast: true, waitMs: 1500 });
    results.discoveredByOurController = found.map((n) => n.address).sort();
    const lib = found.find((n) => n.address === '127.0.0.1');
    results.libInstances = lib?.instances.map(formatEoj);
    results.libMakerCode = lib?.identity.makerCode;
    results.libVersion = lib?.version;
    results.libBatteryGetMap = lib?.maps.get(BAT)?.get;
    const read = await controller.getProperties('127.0.0.1', BAT, [0xe4, 0xda]);
    results.libRead = read.map((p) => ({ epc: p.epc, ok: p.ok, value: [...p.edt] }));
    const set = await controller.setProperties('127.0.0.1', BAT, [{ epc: 0xda, edt: StorageBattery.props.operationMode.codec.encode('charging') }]);
    results.libSet = set.map((p) => ({ epc: p.epc, ok: p.ok }));
    const after = await controller.getProperties('127.0.0.1', BAT, [0xda]);
    results.libModeAfterSet = [...after[0]!.edt];
    const refused = await controller.setProperties('127.0.0.1', BAT, [{ epc: 0xda, edt: Uint8Array.of(0x99) }]);
    results.libRefusedSet = refused.map((p) => ({ epc: p.epc, ok: p.ok }));
    const unknown = await controller.getProperties('127.0.0.1', BAT, [0xe5]);
    results.libUnknownGet = unknown.map((p) => ({ epc: p.epc, ok: p.ok }));

    // ---- Direction B: echonet-lite as a controller discovers, reads and sets our simulators.
    EL.search();
    const d6 = await heardFrom((h) => h.from === '127.0.0.3' && h.els.ESV === '72' && h.els.SEOJ === '0ef001' && !!h.els.DETAILs.d6);
    results.ourInstancesSeenByLib = instanceList.decode(Buffer.from(d6.els.DETAILs.d6!, 'hex')).map((x: Eoj) => formatEoj(x));
    EL.sendOPC1('127.0.0.3', '05ff01', '027d01', EL.GET, 'e4', '');
    const soc = await heardFrom((h) => h.from === '127.0.0.3' && h.els.SEOJ === '027d01' && h.els.ESV === '72' && 'e4' in h.els.DETAILs);
    results.ourSocReadByLib = parseInt(soc.els.DETAILs.e4!, 16);
    EL.sendOPC1('127.0.0.3', '05ff01', '027901', EL.GET, 'e0', '');
    const pv = await heardFrom((h) => h.from === '127.0.0.3' && h.els.SEOJ === '027901' && h.els.ESV === '72');
    results.ourPvReadByLib = pv.els.DETAILs;
    EL.sendOPC1('127.0.0.3', '05ff01', '027d01', EL.SETC, 'da', [0x42]);
    const setRes = await heardFrom((h) => h.from === '127.0.0.3' && h.els.SEOJ === '027d01' && h.els.ESV === '71');
    results.ourSetResToLib = setRes.els.DETAILs;
    const inf = await heardFrom((h) => h.from === '127.0.0.3' && h.els.SEOJ === '027d01' && h.els.ESV === '73' && 'da' in h.els.DETAILs);
    results.ourInfSeenByLib = inf.els.DETAILs;
    results.ourBatteryModeAfterLibSet = site.battery!.object.get(StorageBattery.props.operationMode);
    EL.sendOPC1('127.0.0.3', '05ff01', '027d01', EL.SETC, 'eb', [0xff, 0xff, 0xff, 0xff]);
    const sna = await heardFrom((h) => h.from === '127.0.0.3' && h.els.SEOJ === '027d01' && h.els.ESV === '51');
    results.ourSnaToLib = sna.els.DETAILs;
    results.ourChargeSettingAfterRefusal = site.battery!.object.get(StorageBattery.props.chargingPowerSetting);
    results.ourNodeRefusals = Object.fromEntries(site.node.security.counts);
  } catch (err) {
    results.error = err instanceof Error ? err.message : String(err);
    results.heardByLib = heard.map((h) => `${h.from} ${h.els.SEOJ}->${h.els.DEOJ} ${h.els.ESV} ${JSON.stringify(h.els.DETAILs)}`);
    results.siteStats = site.node.stats;
  } finally {
    await site.close();
    await controller.close();
    EL.release();
  }
}

main().then(
  () => {
    process.stdout.write(`RESULT ${JSON.stringify(results)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stdout.write(`RESULT ${JSON.stringify({ ...results, error: String(err) })}\n`);
    process.exit(1);
  },
);
