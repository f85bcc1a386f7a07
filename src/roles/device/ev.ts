/**
 * EV charger/discharger (V2H) simulator (class 0x027E): a vehicle that can be plugged in or
 * not, with its own battery SoC; charging and discharging at the set power within the V2H
 * rating. Typical: 40–60 kWh vehicle, 6 kW V2H.
 */
import { EchonetObject } from '../../protocols/echonet/object.js';
import { EvChargerDischarger, type EvOperationMode, type VehicleConnection } from '../../protocols/echonet/objects/ev-charger-discharger.js';
import { watts, wattHours, type Watts } from '../../core/units.js';
import { jstHour } from './sim-time.js';
import { clamp, hours, firmwareProperties, superValues, u32, type DeviceIdentity, type DeviceSimulator, type StepContext } from './simulator.js';

export interface EvConfig {
  vehicleCapacityWh: number;
  maxChargeW: number;
  maxDischargeW: number;
  initialSocPercent?: number;
  pluggedIn?: boolean;
  efficiency?: number;
  /**
   * Commuter schedule: plugged in from hour `from` to hour `to` (JST, wrapping midnight, e.g.
   * [18, 8]); away otherwise, returning with `driveWh` less in the battery (default 6 kWh).
   */
  pluggedHours?: [number, number];
  driveWh?: number;
}

export class EvSimulator implements DeviceSimulator {
  readonly kind = 'ev' as const;
  readonly object: EchonetObject<typeof EvChargerDischarger.props>;
  private energyWh: number;
  private plugged: boolean;
  private powerW = 0;
  private chargedWh = 0;
  private dischargedWh = 0;
  private readonly eff: number;

  constructor(private readonly cfg: EvConfig, identity: DeviceIdentity, instance = 1) {
    this.energyWh = (cfg.vehicleCapacityWh * clamp(cfg.initialSocPercent ?? 60, 0, 100)) / 100;
    this.plugged = cfg.pluggedIn ?? true;
    this.eff = cfg.efficiency ?? 0.93;
    const P = EvChargerDischarger.props;
    this.object = new EchonetObject(EvChargerDischarger, {
      instance,
      extra: firmwareProperties(identity),
      values: {
        ...superValues(identity),
        operationMode: 'standby',
        actualOperationMode: 'standby',
        // Designated-power charging and discharging (0xEB/0xEC), the way the gateway steers it.
        chargingMethod: Uint8Array.of(0x03),
        dischargingMethod: Uint8Array.of(0x03),
        maintenanceStatus: Uint8Array.of(0x42),
        faultDescription: Uint8Array.of(0x00, 0x00),
        vehicleConnection: this.connection(),
        ratedChargePower: watts(cfg.maxChargeW),
        ratedDischargePower: watts(cfg.maxDischargeW),
        chargingPowerSetting: watts(cfg.maxChargeW),
        dischargingPowerSetting: watts(cfg.maxDischargeW),
        instantaneousChargeDischargePower: watts(0),
        vehicleBatteryCapacity: wattHours(cfg.vehicleCapacityWh),
        vehicleDischargeableCapacity: wattHours(cfg.vehicleCapacityWh),
        vehicleRemainingDischargeable: wattHours(Math.round(this.energyWh)),
        minMaxChargingPower: Uint8Array.of(...u32(0), ...u32(cfg.maxChargeW)),
        minMaxDischargingPower: Uint8Array.of(...u32(0), ...u32(cfg.maxDischargeW)),
        vehicleRemainingWh: wattHours(Math.round(this.energyWh)),
        vehicleRemainingPercent: Math.round(this.soc()),
        cumulativeCharging: wattHours(0),
        cumulativeDischarging: wattHours(0),
      },
    });
    this.object.setHook((epc, value) => {
      if (epc === P.operationMode.epc) {
        const m = value as EvOperationMode;
        if (m === 'other') return 'mode "other" is not supported';
        if ((m === 'charging' || m === 'discharging') && !this.plugged) return 'no vehicle is connected';
      }
      if (epc === P.chargingPowerSetting.epc && (value as number) > cfg.maxChargeW) return `${String(value)} W exceeds the ${cfg.maxChargeW} W rating`;
      if (epc === P.dischargingPowerSetting.epc && (value as number) > cfg.maxDischargeW) return `${String(value)} W exceeds the ${cfg.maxDischargeW} W rating`;
      return undefined;
    });
  }

  soc(): number {
    return (this.energyWh / this.cfg.vehicleCapacityWh) * 100;
  }
  isPluggedIn(): boolean {
    return this.plugged;
  }

  /** Plugs the vehicle in or out (announced through 0xC7). Unplugging stops any transfer. */
  plug(pluggedIn: boolean, socPercent?: number): void {
    this.plugged = pluggedIn;
    if (socPercent !== undefined) this.energyWh = (this.cfg.vehicleCapacityWh * clamp(socPercent, 0, 100)) / 100;
    if (!pluggedIn) this.object.set(EvChargerDischarger.props.operationMode, 'standby');
    this.publish();
  }

  private connection(): VehicleConnection {
    if (!this.plugged) return 'notConnected';
    const canCharge = this.energyWh < this.cfg.vehicleCapacityWh - 1;
    const canDischarge = this.energyWh > this.cfg.vehicleCapacityWh * 0.3; // V2H keeps 30 % for driving
    if (canCharge && canDischarge) return 'connectedChargeableDischargeable';
    if (canCharge) return 'connectedChargeable';
    if (canDischarge) return 'connectedDischargeable';
    return 'connected';
  }

  step(ctx: StepContext): Watts {
    const o = this.object;
    const P = EvChargerDischarger.props;
    const h = hours(ctx.dtMs);
    if (this.cfg.pluggedHours) {
      const [from, to] = this.cfg.pluggedHours;
      const hour = jstHour(ctx.t);
      const home = from <= to ? hour >= from && hour < to : hour >= from || hour < to;
      if (home !== this.plugged) {
        if (home) this.energyWh = Math.max(this.cfg.vehicleCapacityWh * 0.1, this.energyWh - (this.cfg.driveWh ?? 6000));
        this.plug(home);
      }
    }
    let target = 0;
    if (this.plugged && o.get(P.operationStatus) === 'on' && h > 0) {
      const mode = o.get(P.operationMode);
      if (mode === 'charging') target = Math.min(o.get(P.chargingPowerSetting), (this.cfg.vehicleCapacityWh - this.energyWh) / (this.eff * h));
      else if (mode === 'discharging') target = -Math.min(o.get(P.dischargingPowerSetting), Math.max(0, ((this.energyWh - this.cfg.vehicleCapacityWh * 0.3) * this.eff) / h));
    }
    this.powerW = Math.round(target) || 0; // no negative zero
    if (this.powerW > 0) {
      this.energyWh += this.powerW * h * this.eff;
      this.chargedWh += this.powerW * h;
    } else if (this.powerW < 0) {
      this.energyWh += (this.powerW * h) / this.eff;
      this.dischargedWh -= this.powerW * h;
    }
    this.energyWh = clamp(this.energyWh, 0, this.cfg.vehicleCapacityWh);
    this.publish();
    return watts(this.powerW);
  }

  private publish(): void {
    const o = this.object;
    const P = EvChargerDischarger.props;
    o.set(P.vehicleConnection, this.connection());
    o.set(P.instantaneousChargeDischargePower, watts(this.powerW));
    // 0xE1 says what the unit does, which may differ from what 0xDA asks (no vehicle, full, empty).
    o.set(P.actualOperationMode, this.powerW > 0 ? 'charging' : this.powerW < 0 ? 'discharging' : o.get(P.operationMode) === 'idle' ? 'idle' : 'standby');
    o.set(P.vehicleRemainingWh, wattHours(Math.round(this.energyWh)));
    o.set(P.vehicleRemainingPercent, Math.round(clamp(this.soc(), 0, 100)));
    o.set(P.vehicleRemainingDischargeable, wattHours(Math.round(this.energyWh)));
    o.set(P.vehicleRemainingDischargeablePercent, Uint8Array.of(Math.round(clamp(this.soc(), 0, 100))));
    o.set(P.vehicleChargeableCapacity, u32(this.cfg.vehicleCapacityWh));
    o.set(P.vehicleRemainingChargeable, u32(Math.max(0, Math.round(this.cfg.vehicleCapacityWh - this.energyWh))));
    o.set(P.cumulativeCharging, wattHours(Math.round(this.chargedWh) % 1_000_000_000));
    o.set(P.cumulativeDischarging, wattHours(Math.round(this.dischargedWh) % 1_000_000_000));
  }
}
