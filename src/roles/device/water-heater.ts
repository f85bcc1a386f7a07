/**
 * Heat-pump water heater ("EcoCute") simulator (class 0x026B): a tank of hot water drawn in the
 * morning and evening, reheated by a ~1.2 kW heat pump (COP ~3) automatically at night
 * (23:00–07:00 JST), or now on a manual boil (0xB0 = manual heating, which returns to automatic
 * once the tank is full), or never (manual stop). Typical tank 370–460 L.
 *
 * Energy shift (the Appendix's daytime heating shift, used to soak up midday PV): while 0xC7
 * says the unit takes part, it also boils for up to three hours from the shift times 0xCA/0xCD
 * (09:00–17:00), and reports per candidate time the energy such a boil would take (0xCB/0xCE:
 * the tank's deficit then, from the draw expected until then) and its hourly consumption
 * (0xCC/0xCF).
 */
import { EchonetObject } from '../../protocols/echonet/object.js';
import { ElectricWaterHeater } from '../../protocols/echonet/objects/electric-water-heater.js';
import { watts, wattHours, type Watts } from '../../core/units.js';
import { jstHour } from './sim-time.js';
import { clamp, hours, firmwareProperties, superValues, u32, type DeviceIdentity, type DeviceSimulator, type StepContext } from './simulator.js';

export interface WaterHeaterConfig {
  tankLitres: number;
  /** Electric input while heating, W (default 1200). */
  heaterW?: number;
  /** Coefficient of performance of the heat pump (default 3). */
  cop?: number;
  initialFillPercent?: number;
  /** Daily hot-water use in litres at the set temperature (default 250). */
  dailyUseLitres?: number;
}

/** kWh of heat to raise one litre of water from 17 °C to 65 °C. */
const KWH_PER_LITRE = (4.186 * 48) / 3600;

export class WaterHeaterSimulator implements DeviceSimulator {
  readonly kind = 'water_heater' as const;
  readonly object: EchonetObject<typeof ElectricWaterHeater.props>;
  private litres: number;
  private powerW = 0;
  private cumulativeWh = 0;
  private readonly heaterW: number;
  private readonly cop: number;
  private readonly dailyUse: number;

  constructor(private readonly cfg: WaterHeaterConfig, identity: DeviceIdentity, instance = 1) {
    this.heaterW = cfg.heaterW ?? 1200;
    this.cop = cfg.cop ?? 3;
    this.dailyUse = cfg.dailyUseLitres ?? 250;
    this.litres = (cfg.tankLitres * clamp(cfg.initialFillPercent ?? 70, 0, 100)) / 100;
    this.object = new EchonetObject(ElectricWaterHeater, {
      instance,
      extra: firmwareProperties(identity),
      values: {
        ...superValues(identity),
        heatingSetting: 'automatic',
        heaterStatus: 'notHeating',
        heatingTemperatureSetting: 65,
        remainingHotWater: Math.round(this.litres),
        tankCapacity: cfg.tankLitres,
        daytimeReheatingPermission: Uint8Array.of(0x41),
        hotWaterSupplyStatus: Uint8Array.of(0x42),
        energyShiftParticipation: Uint8Array.of(0x00),
        standardHeatingStartTime: Uint8Array.of(23),
        energyShiftCount: Uint8Array.of(2),
        daytimeHeatingShiftTime1: Uint8Array.of(0x00),
        daytimeHeatingShiftTime2: Uint8Array.of(0x00),
        instantaneousPower: watts(0),
        cumulativePower: wattHours(0),
      },
    });
  }

  remainingLitres(): number {
    return this.litres;
  }

  /** Whether the energy shift is on and local hour h is within three hours of a shift time. */
  private inShift(h: number): boolean {
    const P = ElectricWaterHeater.props;
    if (this.object.get(P.energyShiftParticipation)[0] !== 0x01) return false;
    return [this.object.get(P.daytimeHeatingShiftTime1)[0]!, this.object.get(P.daytimeHeatingShiftTime2)[0]!]
      .some((start) => start >= 9 && h >= start && h < start + 3);
  }

  /** Wh a boil to full would take at local hour `at`, given the draw expected from hour `now`. */
  private boilEnergyAt(now: number, at: number): number {
    let litres = this.litres;
    for (let h = now; h < at; h++) litres -= this.drawPerHour(h);
    const deficit = clamp(this.cfg.tankLitres - litres, 0, this.cfg.tankLitres);
    return Math.round((deficit * KWH_PER_LITRE * 1000) / this.cop);
  }

  private publishShiftEstimates(hour: number): void {
    const P = ElectricWaterHeater.props;
    const est = (hours: number[]) => Uint8Array.from(hours.flatMap((at) => [...u32(this.boilEnergyAt(Math.floor(hour), at))]));
    const rate = (n: number) => Uint8Array.from(Array.from({ length: n }, () => [(this.heaterW >> 8) & 0xff, this.heaterW & 0xff]).flat());
    this.object.set(P.expectedEnergyAtShiftTime1, est([10, 13, 15, 17]));
    this.object.set(P.hourlyConsumptionAtShiftTime1, rate(4));
    this.object.set(P.expectedEnergyAtShiftTime2, est([13, 15, 17]));
    this.object.set(P.hourlyConsumptionAtShiftTime2, rate(3));
  }

  /** Litres drawn per hour at local hour h: morning and (larger) evening use. */
  private drawPerHour(h: number): number {
    const bump = (c: number, w: number): number => Math.exp(-((h - c) ** 2) / (2 * w * w)) / (w * Math.sqrt(2 * Math.PI));
    return this.dailyUse * (0.3 * bump(7, 0.8) + 0.7 * bump(20.5, 1.2));
  }

  step(ctx: StepContext): Watts {
    const o = this.object;
    const P = ElectricWaterHeater.props;
    const h = hours(ctx.dtMs);
    const hour = jstHour(ctx.t);
    this.litres = Math.max(0, this.litres - this.drawPerHour(hour) * h);
    const setting = o.get(P.heatingSetting);
    const full = this.litres >= this.cfg.tankLitres - 0.5;
    const night = hour >= 23 || hour < 7;
    const heat = o.get(P.operationStatus) === 'on' && !full
      && (setting === 'manualHeating' || (setting === 'automatic' && (night || this.inShift(hour))));
    this.powerW = heat ? this.heaterW : 0;
    if (heat) this.litres = Math.min(this.cfg.tankLitres, this.litres + (this.heaterW / 1000) * this.cop * h / KWH_PER_LITRE);
    this.cumulativeWh += this.powerW * h;
    // A manual boil ends when the tank is full and the heater returns to automatic, as real units do.
    if (setting === 'manualHeating' && this.litres >= this.cfg.tankLitres - 0.5) o.set(P.heatingSetting, 'automatic');
    o.set(P.heaterStatus, this.powerW > 0 ? 'heating' : 'notHeating');
    o.set(P.remainingHotWater, Math.round(this.litres));
    o.set(P.hotWaterSupplyStatus, Uint8Array.of(this.drawPerHour(hour) > 5 ? 0x41 : 0x42));
    this.publishShiftEstimates(hour);
    o.set(P.instantaneousPower, watts(this.powerW));
    o.set(P.cumulativePower, wattHours(Math.round(this.cumulativeWh) % 1_000_000_000));
    return watts(this.powerW);
  }
}
