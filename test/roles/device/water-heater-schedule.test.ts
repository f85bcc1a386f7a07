/** Heat-pump water heater energy shift (0xC7, 0xCA/0xCD, 0xCB/0xCC), stepped deterministically. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WaterHeaterSimulator } from '../../../src/roles/device/water-heater.js';
import { ElectricWaterHeater } from '../../../src/protocols/echonet/objects/index.js';
import type { EpochMillis } from '../../../src/core/units.js';

const id = { makerCode: 0xfffffe, productCode: 'TEST', productionNumber: 'WH1' };
const jst = (h: number, m = 0): EpochMillis => (Date.UTC(2026, 5, 21, h - 9, m)) as EpochMillis;

test('a daytime heating shift boils from the shift time while taking part, and not otherwise', () => {
  const wh = new WaterHeaterSimulator({ tankLitres: 460, initialFillPercent: 40 }, id);
  const P = ElectricWaterHeater.props;
  assert.equal(wh.step({ t: jst(13, 30), dtMs: 60_000, netLoadW: 0 }), 0, 'automatic: no daytime boil without a shift');
  // Shift time 1 = 13:00, but not taking part yet: still no boil.
  assert.equal(wh.object.applySet(0xca, Uint8Array.of(0x0d)).accepted, true);
  assert.equal(wh.step({ t: jst(13, 31), dtMs: 60_000, netLoadW: 0 }), 0);
  assert.equal(wh.object.applySet(0xc7, Uint8Array.of(0x01)).accepted, true);
  assert.equal(wh.step({ t: jst(13, 32), dtMs: 60_000, netLoadW: 0 }), 1200, 'boils in the shift window');
  assert.equal(wh.object.get(P.heaterStatus), 'heating');
  assert.equal(wh.step({ t: jst(16, 30), dtMs: 60_000, netLoadW: 0 }), 0, 'the window is three hours');
  // A shift time outside the Appendix's codes is refused.
  assert.equal(wh.object.applySet(0xca, Uint8Array.of(0x05)).accepted, false);
});

test('the shift estimates report the energy to fill the tank at each candidate time, larger the later', () => {
  const wh = new WaterHeaterSimulator({ tankLitres: 460, initialFillPercent: 50 }, id);
  wh.step({ t: jst(9), dtMs: 60_000, netLoadW: 0 });
  const cb = Buffer.from(wh.object.get(ElectricWaterHeater.props.expectedEnergyAtShiftTime1));
  const at = [0, 4, 8, 12].map((o) => cb.readUInt32BE(o));
  // Half of 460 L heated by 48 K with COP 3: ≈ 4.3 kWh, plus the draw expected until then.
  assert.ok(at[0]! > 4000 && at[0]! < 5500, `10:00 ${at[0]} Wh`);
  assert.ok(at[3]! >= at[0]!, 'later candidates need at least as much');
  const cc = Buffer.from(wh.object.get(ElectricWaterHeater.props.hourlyConsumptionAtShiftTime1));
  assert.equal(cc.readUInt16BE(0), 1200);
});
