/**
 * Multi-input PCS simulator (class 0x02A5): the one power conditioner that the site's PV and
 * storage battery share. The inputs stay objects of their own (listed in 0xE8, steered through
 * their own properties); the PCS measures what it exchanges with the house's AC side, which is
 * the sum of its inputs' AC power, plus its own standby consumption, and counts it into 0xE0
 * (taken from AC, + 0xE7) and 0xE3 (delivered to AC, − 0xE7) in Wh.
 */
import { EchonetObject } from '../../protocols/echonet/object.js';
import { MultiInputPcs } from '../../protocols/echonet/objects/multi-input-pcs.js';
import type { Eoj } from '../../protocols/echonet/eoj.js';
import { watts, wattHours, type Watts } from '../../core/units.js';
import { clockValues, firmwareProperties, hours, superValues, type DeviceIdentity, type DeviceSimulator, type StepContext } from './simulator.js';

export interface PcsConfig {
  /** The PCS's own consumption while on, W (default 15). */
  standbyW?: number;
  /** The objects on its inputs (0xE8), with a way to read each one's AC power now (W, + draw, − feed). */
  inputs: { eoj: Eoj; powerW: () => number }[];
}

const ENERGY_MAX_WH = 999_999_999;

export class PcsSimulator implements DeviceSimulator {
  readonly kind = 'pcs' as const;
  readonly object: EchonetObject<typeof MultiInputPcs.props>;
  private takenWh = 0;
  private deliveredWh = 0;
  private readonly standbyW: number;

  constructor(private readonly cfg: PcsConfig, identity: DeviceIdentity, instance = 1) {
    this.standbyW = cfg.standbyW ?? 15;
    this.object = new EchonetObject(MultiInputPcs, {
      instance,
      extra: firmwareProperties(identity),
      values: {
        ...superValues(identity),
        faultDescription: Uint8Array.of(0x00, 0x00),
        ...clockValues(0),
        systemInterconnection: 'reversePowerFlowAcceptable',
        cumulativeNormal: wattHours(0),
        cumulativeReverse: wattHours(0),
        instantaneousPower: watts(0),
        connectedDevices: cfg.inputs.map((i) => i.eoj),
      },
    });
  }

  /** Energy taken from and delivered to the AC side so far (Wh). */
  totals(): { takenWh: number; deliveredWh: number } {
    return { takenWh: this.takenWh, deliveredWh: this.deliveredWh };
  }

  /** Runs after its inputs have stepped; returns only its own consumption (the inputs count theirs). */
  step(ctx: StepContext): Watts {
    const o = this.object;
    const P = MultiInputPcs.props;
    const on = o.get(P.operationStatus) === 'on';
    const own = on ? this.standbyW : 0;
    const ac = Math.round(this.cfg.inputs.reduce((sum, i) => sum + i.powerW(), 0) + own);
    const h = hours(ctx.dtMs);
    if (ac > 0) this.takenWh += ac * h;
    else this.deliveredWh -= ac * h;
    const clock = clockValues(ctx.t);
    o.set(P.currentTime, clock.currentTime);
    o.set(P.currentDate, clock.currentDate);
    o.set(P.instantaneousPower, watts(ac));
    o.set(P.cumulativeNormal, wattHours(Math.round(this.takenWh) % ENERGY_MAX_WH));
    o.set(P.cumulativeReverse, wattHours(Math.round(this.deliveredWh) % ENERGY_MAX_WH));
    return watts(own);
  }
}
