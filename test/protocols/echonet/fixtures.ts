/** Objects and raw-socket helpers shared by the ECHONET Lite tests. */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { EchonetObject } from '../../../src/protocols/echonet/object.js';
import { StorageBattery, rawProperty } from '../../../src/protocols/echonet/objects/index.js';
import { watts, wattHours } from '../../../src/core/units.js';

export const superValues = {
  operationStatus: 'on' as const,
  installationLocation: Uint8Array.of(0x00),
  standardVersion: { release: 'R', revision: 0 },
  faultStatus: 'noFault' as const,
  makerCode: 0xfffffe,
  productCode: 'ERAB-TEST',
  productionNumber: 'T0001',
};

/** A storage battery instance with a maker-specific property 0xF5. */
/** The storage battery's other mandatory values (Appendix table), neutral for tests. */
export const batteryMandatoryValues = {
  acEffectiveCapacityCharging: wattHours(9000), acEffectiveCapacityDischarging: wattHours(8500),
  acChargeableAmount: wattHours(4500), acDischargeableAmount: wattHours(4000),
  acCumulativeCharging: wattHours(0), acCumulativeDischarging: wattHours(0),
  acChargeAmountSetting: wattHours(0), acDischargeAmountSetting: wattHours(0),
  minMaxChargingPower: [0, 3000] as [number, number], minMaxDischargingPower: [0, 3000] as [number, number],
  systemInterconnection: 'reversePowerFlowNotAcceptable' as const,
};

export function testBattery(instance = 1, soc = 50): EchonetObject<typeof StorageBattery.props> {
  return new EchonetObject(StorageBattery, {
    instance,
    values: {
      ...superValues, ...batteryMandatoryValues,
      operationMode: 'standby', workingOperationStatus: 'standby', remainingCapacityPercent: soc,
      instantaneousChargeDischargePower: watts(0), chargingPowerSetting: watts(3000), dischargingPowerSetting: watts(3000),
      ratedEnergy: wattHours(9800),
    },
    extra: [{ def: rawProperty(0xf5, 'G'), edt: Uint8Array.of(0xde, 0xad) }],
  });
}

/** A raw UDP socket for sending hand-made datagrams and collecting what comes back. */
export class RawPeer {
  readonly received: { msg: Buffer; from: dgram.RemoteInfo }[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly sock: dgram.Socket) {
    sock.on('message', (msg, from) => {
      this.received.push({ msg, from });
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(address: string, port = 0): Promise<RawPeer> {
    const sock = dgram.createSocket('udp4');
    sock.bind(port, address);
    await once(sock, 'listening');
    return new RawPeer(sock);
  }
  get port(): number {
    return this.sock.address().port;
  }
  send(hex: string | Uint8Array, address: string, port = 3610): Promise<void> {
    const buf = typeof hex === 'string' ? Buffer.from(hex.replace(/\s+/g, ''), 'hex') : hex;
    return new Promise((resolve, reject) => this.sock.send(buf, port, address, (e) => (e ? reject(e) : resolve())));
  }
  /** Waits until at least `n` datagrams arrived (rejects after `ms`). */
  async waitFor(n: number, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.received.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${n} datagram(s), got ${this.received.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}

/** Lets pending socket I/O run (a short real wait; used only to prove that nothing arrives). */
export const settle = (ms = 150): Promise<void> => new Promise((r) => setTimeout(r, ms));
