/**
 * General lighting simulator (class 0x0290): LED fixtures whose electric input follows the
 * brightness 0xB0 (a small driver loss plus the rated power × brightness) while 0x80 is on.
 */
import { EchonetObject } from '../../protocols/echonet/object.js';
import { GeneralLighting } from '../../protocols/echonet/objects/general-lighting.js';
import { watts, wattHours, type Watts } from '../../core/units.js';
import { hours, firmwareProperties, superValues, type DeviceIdentity, type DeviceSimulator, type StepContext } from './simulator.js';

export interface LightingConfig {
  /** Rated input of the fixtures at 100 % (W, default 120). */
  ratedW?: number;
  /** Initial brightness, % (default 100). */
  brightnessPercent?: number;
  on?: boolean;
}

/** Driver standby/loss share of the rated input while lit. */
const DRIVER_LOSS = 0.05;

export class LightingSimulator implements DeviceSimulator {
  readonly kind = 'lighting' as const;
  readonly object: EchonetObject<typeof GeneralLighting.props>;
  private powerW = 0;
  private cumulativeWh = 0;
  private readonly ratedW: number;

  constructor(cfg: LightingConfig, identity: DeviceIdentity, instance = 1) {
    this.ratedW = cfg.ratedW ?? 120;
    this.object = new EchonetObject(GeneralLighting, {
      instance,
      extra: firmwareProperties(identity),
      values: {
        ...superValues(identity, cfg.on ?? true),
        brightness: cfg.brightnessPercent ?? 100,
        lightingMode: 'normal',
        instantaneousPower: watts(0),
        cumulativePower: wattHours(0),
      },
    });
  }

  power(): Watts {
    return watts(this.powerW);
  }

  step(ctx: StepContext): Watts {
    const o = this.object;
    const P = GeneralLighting.props;
    const on = o.get(P.operationStatus) === 'on';
    const level = o.get(P.brightness) / 100;
    this.powerW = on && level > 0 ? Math.round(this.ratedW * (DRIVER_LOSS + (1 - DRIVER_LOSS) * level)) : 0;
    this.cumulativeWh += this.powerW * hours(ctx.dtMs);
    o.set(P.instantaneousPower, watts(Math.min(this.powerW, 65533)));
    o.set(P.cumulativePower, wattHours(Math.round(this.cumulativeWh) % 1_000_000_000));
    return watts(this.powerW);
  }
}
