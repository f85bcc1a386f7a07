/**
 * Storage battery simulator (class 0x027D): state of charge integrates the AC charge/discharge
 * power with a round-trip efficiency; the inverter rating and SoC limits cap the power; the
 * operation modes charging, discharging, standby and automatic (self-consumption: cover the
 * site's import, soak up its export) follow 0xDA. Typical Japanese home battery: 5–16 kWh,
 * 2–6 kW inverter.
 */
import { EchonetObject } from '../../protocols/echonet/object.js';
import { StorageBattery, type BatteryOperationMode } from '../../protocols/echonet/objects/storage-battery.js';
import { watts, wattHours, type Watts } from '../../core/units.js';
import { clamp, hours, firmwareProperties, superValues, clockValues, type DeviceIdentity, type DeviceSimulator, type StepContext } from './simulator.js';

export interface BatteryConfig {
  capacityWh: number;
  maxChargeW: number;
  maxDischargeW: number;
  /** Initial state of charge, % (default 50). */
  initialSocPercent?: number;
  /** SoC floor and ceiling, % (default 10 and 100). */
  minSocPercent?: number;
  maxSocPercent?: number;
  /** One-way efficiency (default 0.95). */
  efficiency?: number;
  initialMode?: 'charging' | 'discharging' | 'standby' | 'automatic';
}

const SUPPORTED_MODES = new Set<BatteryOperationMode>(['charging', 'rapidCharging', 'discharging', 'standby', 'automatic']);

export class BatterySimulator implements DeviceSimulator {
  readonly kind = 'battery' as const;
  readonly object: EchonetObject<typeof StorageBattery.props>;
  private energyWh: number;
  private chargedWh = 0;
  private dischargedWh = 0;
  private powerW = 0;
  private readonly cfg: Required<BatteryConfig>;

  constructor(config: BatteryConfig, identity: DeviceIdentity, instance = 1) {
    this.cfg = { initialSocPercent: 50, minSocPercent: 10, maxSocPercent: 100, efficiency: 0.95, initialMode: 'standby', ...config };
    if (this.cfg.capacityWh <= 0 || this.cfg.maxChargeW <= 0 || this.cfg.maxDischargeW <= 0) throw new RangeError('battery capacity and inverter ratings must be positive');
    this.energyWh = (this.cfg.capacityWh * clamp(this.cfg.initialSocPercent, 0, 100)) / 100;
    const P = StorageBattery.props;
    this.object = new EchonetObject(StorageBattery, {
      instance,
      extra: firmwareProperties(identity),
      values: {
        ...superValues(identity),
        operationMode: this.cfg.initialMode,
        workingOperationStatus: this.cfg.initialMode,
        ratedEnergy: wattHours(this.cfg.capacityWh),
        remainingCapacityWh: wattHours(Math.round(this.energyWh)),
        remainingCapacityPercent: Math.round(this.socPercent()),
        instantaneousChargeDischargePower: watts(0),
        acChargeableAmount: wattHours(0),
        acEffectiveCapacityCharging: wattHours(Math.round((this.cfg.capacityWh * (this.cfg.maxSocPercent - this.cfg.minSocPercent)) / 100 / this.cfg.efficiency)),
        acEffectiveCapacityDischarging: wattHours(Math.round((this.cfg.capacityWh * (this.cfg.maxSocPercent - this.cfg.minSocPercent)) / 100 * this.cfg.efficiency)),
        acCumulativeCharging: wattHours(0),
        acCumulativeDischarging: wattHours(0),
        acChargeAmountSetting: wattHours(0),
        acDischargeAmountSetting: wattHours(0),
        acDischargeableAmount: wattHours(0),
        cumulativeCharging: wattHours(0),
        cumulativeDischarging: wattHours(0),
        chargingPowerSetting: watts(this.cfg.maxChargeW),
        dischargingPowerSetting: watts(this.cfg.maxDischargeW),
        minMaxChargingPower: [0, this.cfg.maxChargeW],
        minMaxDischargingPower: [0, this.cfg.maxDischargeW],
        systemInterconnection: 'reversePowerFlowNotAcceptable',
      },
    });
    this.object.setHook((epc, value) => {
      // The device's own limits, on top of the Appendix ranges (refused → SetC_SNA).
      if (epc === P.operationMode.epc && !SUPPORTED_MODES.has(value as BatteryOperationMode)) return `mode ${String(value)} is not supported by this battery`;
      if (epc === P.chargingPowerSetting.epc && (value as number) > this.cfg.maxChargeW) return `${String(value)} W exceeds the ${this.cfg.maxChargeW} W charge rating`;
      if (epc === P.dischargingPowerSetting.epc && (value as number) > this.cfg.maxDischargeW) return `${String(value)} W exceeds the ${this.cfg.maxDischargeW} W discharge rating`;
      return undefined;
    });
    this.publish();
  }

  socPercent(): number {
    return (this.energyWh / this.cfg.capacityWh) * 100;
  }
  storedWh(): number {
    return this.energyWh;
  }
  /** AC power: + charging, − discharging. */
  power(): Watts {
    return watts(this.powerW);
  }

  step(ctx: StepContext): Watts {
    const o = this.object;
    const P = StorageBattery.props;
    const on = o.get(P.operationStatus) === 'on';
    const mode = o.get(P.operationMode);
    const h = hours(ctx.dtMs);
    let target = 0;
    if (on && h > 0) {
      if (mode === 'charging') target = o.get(P.chargingPowerSetting);
      else if (mode === 'rapidCharging') target = this.cfg.maxChargeW;
      else if (mode === 'discharging') target = -o.get(P.dischargingPowerSetting);
      else if (mode === 'automatic') target = clamp(-ctx.netLoadW, -this.cfg.maxDischargeW, this.cfg.maxChargeW);
    }
    const e = this.cfg.efficiency;
    const maxE = (this.cfg.capacityWh * this.cfg.maxSocPercent) / 100;
    const minE = (this.cfg.capacityWh * this.cfg.minSocPercent) / 100;
    if (target > 0 && h > 0) target = Math.min(target, Math.max(0, (maxE - this.energyWh) / (e * h)));
    if (target < 0 && h > 0) target = -Math.min(-target, Math.max(0, ((this.energyWh - minE) * e) / h));
    this.powerW = Math.round(target) || 0; // no negative zero
    if (this.powerW > 0) {
      this.energyWh += this.powerW * h * e;
      this.chargedWh += this.powerW * h;
    } else if (this.powerW < 0) {
      this.energyWh += (this.powerW * h) / e;
      this.dischargedWh -= this.powerW * h;
    }
    this.energyWh = clamp(this.energyWh, 0, this.cfg.capacityWh);
    const now = clockValues(ctx.t);
    o.set(P.currentTime, now.currentTime);
    o.set(P.currentDate, now.currentDate);
    this.publish();
    return watts(this.powerW);
  }

  private publish(): void {
    const o = this.object;
    const P = StorageBattery.props;
    const e = this.cfg.efficiency;
    const mode = o.get(P.operationMode);
    // The working status shows what the battery does now: a charge that hit the ceiling is standby.
    const working = this.powerW > 0 ? (mode === 'rapidCharging' ? 'rapidCharging' : 'charging') : this.powerW < 0 ? 'discharging' : mode === 'automatic' ? 'automatic' : 'standby';
    o.set(P.workingOperationStatus, working);
    o.set(P.instantaneousChargeDischargePower, watts(this.powerW));
    o.set(P.remainingCapacityWh, wattHours(Math.round(this.energyWh)));
    o.set(P.remainingCapacityPercent, Math.round(clamp(this.socPercent(), 0, 100)));
    o.set(P.acChargeableAmount, wattHours(Math.max(0, Math.round(((this.cfg.capacityWh * this.cfg.maxSocPercent) / 100 - this.energyWh) / e))));
    o.set(P.acDischargeableAmount, wattHours(Math.max(0, Math.round((this.energyWh - (this.cfg.capacityWh * this.cfg.minSocPercent) / 100) * e))));
    o.set(P.cumulativeCharging, wattHours(Math.round(this.chargedWh) % 1_000_000_000));
    o.set(P.cumulativeDischarging, wattHours(Math.round(this.dischargedWh) % 1_000_000_000));
    // The simulated inverter is the AC side: AC cumulative readings equal the DC ones here.
    o.set(P.acCumulativeCharging, wattHours(Math.round(this.chargedWh) % 1_000_000_000));
    o.set(P.acCumulativeDischarging, wattHours(Math.round(this.dischargedWh) % 1_000_000_000));
  }
}
