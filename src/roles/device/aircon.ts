/**
 * Home air conditioner simulator (class 0x0130): a room that drifts toward the outdoor
 * temperature (time constant ~3 h) and is pulled toward the set temperature while running;
 * electric input grows with the temperature lift (≈ 350 W + 120 W/K, at most the rating).
 */
import { EchonetObject } from '../../protocols/echonet/object.js';
import { AirConditioner } from '../../protocols/echonet/objects/air-conditioner.js';
import { watts, wattHours, type Watts } from '../../core/units.js';
import { outdoorTemperature } from './profiles.js';
import { clamp, hours, firmwareProperties, superValues, type DeviceIdentity, type DeviceSimulator, type StepContext } from './simulator.js';

export interface AirconConfig {
  ratedW?: number;
  initialRoomC?: number;
  setC?: number;
  on?: boolean;
}

export class AirconSimulator implements DeviceSimulator {
  readonly kind = 'aircon' as const;
  readonly object: EchonetObject<typeof AirConditioner.props>;
  private room: number;
  private powerW = 0;
  private cumulativeWh = 0;
  private readonly ratedW: number;

  constructor(cfg: AirconConfig, identity: DeviceIdentity, instance = 1) {
    this.ratedW = cfg.ratedW ?? 2000;
    this.room = cfg.initialRoomC ?? 26;
    this.object = new EchonetObject(AirConditioner, {
      instance,
      extra: firmwareProperties(identity),
      values: {
        ...superValues(identity, cfg.on ?? false),
        operationMode: 'automatic',
        temperatureSetting: cfg.setC ?? 26,
        powerSaving: 'normal',
        roomTemperature: Math.round(this.room),
        outdoorTemperature: 20,
        instantaneousPower: watts(0),
        cumulativePower: wattHours(0),
      },
    });
  }

  roomTemperature(): number {
    return this.room;
  }

  step(ctx: StepContext): Watts {
    const o = this.object;
    const P = AirConditioner.props;
    const h = hours(ctx.dtMs);
    const outdoor = outdoorTemperature(ctx.t);
    const on = o.get(P.operationStatus) === 'on';
    const set = o.get(P.temperatureSetting);
    const mode = o.get(P.operationMode);
    // Passive drift toward the outdoor temperature.
    this.room += (outdoor - this.room) * (1 - Math.exp(-h / 3));
    this.powerW = 0;
    if (on && mode !== 'airCirculator') {
      const wantsCool = mode === 'cooling' || mode === 'dehumidification' || (mode === 'automatic' && this.room > set);
      const wantsHeat = mode === 'heating' || (mode === 'automatic' && this.room < set);
      const lift = Math.abs(outdoor - set);
      if ((wantsCool && this.room > set - 0.2) || (wantsHeat && this.room < set + 0.2)) {
        const saving = o.get(P.powerSaving) === 'powerSaving' ? 0.8 : 1;
        this.powerW = Math.round(clamp(350 + 120 * lift, 0, this.ratedW) * saving);
        // Pulled toward the set point within ~20 minutes while running.
        this.room += (set - this.room) * (1 - Math.exp(-h / 0.33));
      }
    } else if (on) {
      this.powerW = 40; // fan only
    }
    this.cumulativeWh += this.powerW * h;
    o.set(P.roomTemperature, Math.round(clamp(this.room, -127, 125)));
    o.set(P.outdoorTemperature, Math.round(clamp(outdoor, -127, 125)));
    o.set(P.instantaneousPower, watts(Math.min(this.powerW, 65533)));
    o.set(P.cumulativePower, wattHours(Math.round(this.cumulativeWh) % 1_000_000_000));
    return watts(this.powerW);
  }
}
