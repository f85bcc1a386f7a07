/**
 * The smart meter's fixed-time readings 0xEA/0xEB (the last 30-minute boundary) as a controller
 * reads them over UDP, before the simulation has crossed any boundary. Addresses 127.17.2.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceSite } from '../../../src/roles/device/site.js';
import { EchonetController } from '../../../src/protocols/echonet/controller.js';
import { eoj } from '../../../src/protocols/echonet/eoj.js';
import { LowVoltageSmartMeter } from '../../../src/protocols/echonet/objects/index.js';
import { komaFloor } from '../../../src/core/jst.js';

test('0xEA/0xEB read the last half-hour boundary, never 1970-01-01, before the first boundary is crossed', async () => {
  const start = Date.UTC(2026, 5, 21, 3, 10); // 12:10 JST
  const controller = await EchonetController.start({ address: '127.17.2.1', timeoutMs: 3000 });
  const site = await DeviceSite.start({ address: '127.17.2.2', startTime: start, peers: [{ address: '127.17.2.1' }] }, { realtime: false });
  try {
    const [ea, eb] = await controller.getProperties('127.17.2.2', eoj(0x0288, 1), [0xea, 0xeb]);
    const normal = LowVoltageSmartMeter.props.fixedTimeNormal.codec.decode(ea!.edt);
    const reverse = LowVoltageSmartMeter.props.fixedTimeReverse.codec.decode(eb!.edt);
    assert.equal(normal.at, komaFloor(start), '12:00 JST, the boundary before the start');
    assert.equal(reverse.at, komaFloor(start));
    site.advance(25 * 60_000); // past 12:30
    const [ea2] = await controller.getProperties('127.17.2.2', eoj(0x0288, 1), [0xea]);
    assert.equal(LowVoltageSmartMeter.props.fixedTimeNormal.codec.decode(ea2!.edt).at, komaFloor(start) + 30 * 60_000);
  } finally {
    await site.close();
    await controller.close();
  }
});

test('0xD0 holds the last 1-minute reading and 0xEF/0xEE return the 1-minute history over UDP (Release R)', async () => {
  const start = Date.UTC(2026, 5, 21, 3, 10, 20); // 12:10:20 JST
  const controller = await EchonetController.start({ address: '127.17.2.3', timeoutMs: 3000 });
  const site = await DeviceSite.start({ address: '127.17.2.4', startTime: start, peers: [{ address: '127.17.2.3' }], meter: { baseLoadMinW: 6000, baseLoadMaxW: 6000 } }, { realtime: false });
  const meter = eoj(0x0288, 1);
  const P = LowVoltageSmartMeter.props;
  try {
    site.advance(5 * 60_000); // 12:15:20: minutes 12:11 … 12:15 recorded
    const [d0] = await controller.getProperties('127.17.2.4', meter, [0xd0]);
    const minute = P.minuteReading.codec.decode(d0!.edt);
    assert.equal(minute.at, Date.UTC(2026, 5, 21, 3, 15), 'the 12:15:00 boundary');
    assert.ok(minute.normal !== null && minute.normal > 0, 'the house imported energy');
    // Ask for three segments back from 12:14, then for ten from 12:12 (older minutes were before the start).
    const [setEf] = await controller.setProperties('127.17.2.4', meter, [{ epc: 0xef, edt: P.logDay3.codec.encode({ at: Date.UTC(2026, 5, 21, 3, 14), segments: 3 }) }]);
    assert.equal(setEf!.ok, true);
    const [ee] = await controller.getProperties('127.17.2.4', meter, [0xee]);
    const log = P.log3.codec.decode(ee!.edt);
    assert.equal(log.at, Date.UTC(2026, 5, 21, 3, 14));
    assert.equal(log.readings.length, 3);
    const normals = log.readings.map((r) => r.normal!);
    assert.ok(normals[0]! >= normals[1]! && normals[1]! >= normals[2]!, `cumulative readings fall going back: ${normals.join(', ')}`);
    assert.ok(minute.normal! >= normals[0]!);
    await controller.setProperties('127.17.2.4', meter, [{ epc: 0xef, edt: P.logDay3.codec.encode({ at: Date.UTC(2026, 5, 21, 3, 12), segments: 10 }) }]);
    const [ee2] = await controller.getProperties('127.17.2.4', meter, [0xee]);
    const old = P.log3.codec.decode(ee2!.edt).readings;
    assert.equal(old.length, 10);
    assert.ok(old[0]!.normal !== null && old[1]!.normal !== null, '12:12 and 12:11 are held');
    assert.deepEqual(old.slice(3), Array(7).fill({ normal: null, reverse: null }), 'minutes before 12:10 are 0xFFFFFFFE (no data)');
    // A segment count outside 1–10 is refused by the table (_SNA), not stored.
    const bad = Uint8Array.from(P.logDay3.codec.encode({ at: Date.UTC(2026, 5, 21, 3, 14), segments: 1 }));
    bad[6] = 11;
    const [refused] = await controller.setProperties('127.17.2.4', meter, [{ epc: 0xef, edt: bad }]);
    assert.equal(refused!.ok, false);
  } finally {
    await site.close();
    await controller.close();
  }
});
