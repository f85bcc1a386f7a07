/**
 * Household fuel cell simulator (class 0x027C, ENE-FARM): a 700 W stack that starts and stops
 * slowly (output follows its target with a ~5 minute time constant) and, while generating,
 * either runs at its rating (0xD2 maximumRating) or follows the house's demand between its
 * minimum and rated output (loadFollowing). Generation never feeds the grid in load-following.
 */
import { EchonetObject } from '../../protocols/echonet/object.js';
import { FuelCell, type GenerationStatus } from '../../protocols/echonet/objects/fuel-cell.js';
import { watts, wattHours, type Watts } from '../../core/units.js';
import { clamp, hours, firmwareProperties, superValues, type DeviceIdentity, type DeviceSimulator, type StepContext } from './simulator.js';

export interface FuelCellConfig {
  /** Rated output, W (default 700). */
  ratedW?: number;
  /** Minimum output while generating, W (default 200). */
  minW?: number;
  /** Generating at the start (default true, load following). */
  generating?: boolean;
}

/** Time constant of start-up, shut-down and output changes (h). */
const TAU_H = 5 / 60;

export class FuelCellSimulator implements DeviceSimulator {
  readonly kind = 'fuel_cell' as const;
  readonly object: EchonetObject<typeof FuelCell.props>;
  private outputW = 0;
  private cumulativeWh = 0;
  private readonly ratedW: number;
  private readonly minW: number;

  constructor(cfg: FuelCellConfig, identity: DeviceIdentity, instance = 1) {
    this.ratedW = cfg.ratedW ?? 700;
    this.minW = Math.min(cfg.minW ?? 200, this.ratedW);
    const on = cfg.generating ?? true;
    this.object = new EchonetObject(FuelCell, {
      instance,
      extra: firmwareProperties(identity),
      values: {
        ...superValues(identity),
        ratedGeneration: watts(this.ratedW),
        instantaneousGeneration: watts(0),
        cumulativeGeneration: wattHours(0),
        generationSetting: on ? 'generationOn' : 'generationOff',
        generationStatus: on ? 'starting' : 'stopped',
        systemInterconnection: 'reversePowerFlowNotAcceptable',
        requestedGenerationTime: Uint8Array.of(0xff, 0xff, 0xff, 0xff),
        generationMode: 'loadFollowing',
      },
    });
  }

  output(): Watts {
    return watts(Math.round(this.outputW));
  }

  step(ctx: StepContext): Watts {
    const o = this.object;
    const P = FuelCell.props;
    const h = hours(ctx.dtMs);
    const run = o.get(P.operationStatus) === 'on' && o.get(P.generationSetting) === 'generationOn';
    let target = 0;
    if (run) target = o.get(P.generationMode) === 'maximumRating' ? this.ratedW : clamp(ctx.netLoadW, this.minW, this.ratedW);
    this.outputW += (target - this.outputW) * (1 - Math.exp(-h / TAU_H));
    if (!run && this.outputW < 10) this.outputW = 0;
    this.cumulativeWh += this.outputW * h;
    const status: GenerationStatus = run ? (Math.abs(this.outputW - target) < 0.05 * this.ratedW ? 'generating' : 'starting') : this.outputW > 0 ? 'stopping' : 'stopped';
    o.set(P.generationStatus, status);
    o.set(P.instantaneousGeneration, watts(Math.round(this.outputW)));
    o.set(P.cumulativeGeneration, wattHours(Math.round(this.cumulativeWh) % 1_000_000_000));
    return watts(-Math.round(this.outputW));
  }
}
