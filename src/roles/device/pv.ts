/**
 * Household PV simulator (class 0x0279): output follows a clear-sky curve for the site's
 * latitude, with optional multiplicative noise (passing clouds), capped by the output-limit
 * settings 0xA0 (% of rating) and 0xA1 (W). Typical Japanese home PV: 3–6 kW.
 */
import { EchonetObject } from '../../protocols/echonet/object.js';
import { HouseholdSolarPower } from '../../protocols/echonet/objects/household-solar-power.js';
import { watts, wattHours, type Watts } from '../../core/units.js';
import { clearSkyFraction } from './profiles.js';
import { clamp, hours, firmwareProperties, superValues, type DeviceIdentity, type DeviceSimulator, type StepContext } from './simulator.js';

export interface PvConfig {
  ratedW: number;
  latitudeDeg?: number;
  /** 0 = clear sky; 0.3 = up to ±30 % variation per step. */
  noise?: number;
  random?: () => number;
}

export class PvSimulator implements DeviceSimulator {
  readonly kind = 'pv' as const;
  readonly object: EchonetObject<typeof HouseholdSolarPower.props>;
  private cumulativeWh = 0;
  private outputW = 0;

  constructor(private readonly cfg: PvConfig, identity: DeviceIdentity, instance = 1) {
    if (cfg.ratedW <= 0 || cfg.ratedW > 65533) throw new RangeError(`PV rating ${cfg.ratedW} W is outside 1–65533`);
    this.object = new EchonetObject(HouseholdSolarPower, {
      instance,
      extra: firmwareProperties(identity),
      values: {
        ...superValues(identity),
        instantaneousGeneration: watts(0),
        cumulativeGeneration: wattHours(0),
        ratedGeneration: watts(cfg.ratedW),
        outputLimitPercent: 100,
        outputLimitWatts: watts(cfg.ratedW),
        systemInterconnection: 'reversePowerFlowAcceptable',
      },
    });
  }

  /** Current AC output in W (≥ 0). */
  output(): Watts {
    return watts(this.outputW);
  }

  step(ctx: StepContext): Watts {
    const P = HouseholdSolarPower.props;
    const o = this.object;
    let w = 0;
    if (o.get(P.operationStatus) === 'on') {
      w = this.cfg.ratedW * clearSkyFraction(ctx.t, this.cfg.latitudeDeg);
      if (this.cfg.noise && w > 0) w *= clamp(1 + this.cfg.noise * (2 * (this.cfg.random ?? Math.random)() - 1), 0, 1.2);
      const cap = Math.min((this.cfg.ratedW * o.get(P.outputLimitPercent)) / 100, o.get(P.outputLimitWatts));
      w = Math.min(w, cap);
    }
    this.outputW = Math.round(Math.max(0, w));
    this.cumulativeWh += this.outputW * hours(ctx.dtMs);
    o.set(P.instantaneousGeneration, watts(this.outputW));
    o.set(P.cumulativeGeneration, wattHours(Math.round(this.cumulativeWh) % 1_000_000_000));
    return watts(this.outputW === 0 ? 0 : -this.outputW);
  }
}
