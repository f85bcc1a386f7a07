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
