/**
 * Telemetry upstream (TELEMETRY_USAGE and TELEMETRY_STATUS) and its offline resilience.
 *
 * Reporting follows OpenADR 2.0b §8.3 through the OpenADR stack's VEN: the gateway registers
 * METADATA reports (one data point per device quantity, see inventory.ts), the VTN answers with
 * report requests (granularity, report-back duration), and the VEN samples our data points
 * (`read`) at that granularity and sends oadrUpdateReport at the report-back duration.
 *
 * Offline resilience: every oadrUpdateReport is written to the gateway's durable outbox
 * (`SqlVenOutbox`, over src/store/outbox.ts in the gateway's SQLite file) before it is sent,
 * and removed only when the VTN answered. While the aggregator is unreachable reports
 * accumulate on disk (bounded; the oldest go first when full, since the newest values matter
 * most to a running dispatch) and are delivered oldest first when it returns. Each stored
 * report keeps its eiReportID and createdDateTime on every resend, and each reading is an
 * interval with its own dtstart: that pair is the dedup id by which the aggregator counts a
 * report delivered twice (after a lost reply) once.
 */
import type { EpochMillis } from '../../core/units.js';
import type { Outbox } from '../../store/outbox.js';
import type { VenOutbox, VenOutboxItem, VenReportSource } from '../../protocols/openadr/ven.js';
import type { ReportDescription, ResourceStatus as OadrResourceStatus } from '../../protocols/openadr/report.js';
import { SPECIFIER, statusOf } from './oadr-adapter.js';
import { readingToStatus, readingToUsage, type TelemetryOptions } from './translate.js';
import type { DeviceCommand, DeviceReading, OwnerNormal } from './types.js';

export const VEN_OUTBOX_TOPIC = 'gateway-ven-outbox';

/**
 * The VEN's outbox on the gateway database. Sequence numbers come from the store and never
 * go back, so delivery order is enqueue order, across restarts.
 */
export class SqlVenOutbox implements VenOutbox {
  constructor(private readonly outbox: Outbox<VenOutboxItem>) {}
  async add(item: VenOutboxItem): Promise<void> {
    await this.outbox.enqueue(VEN_OUTBOX_TOPIC, item);
  }
  async peek(limit: number): Promise<{ seq: number; item: VenOutboxItem }[]> {
    return (await this.outbox.peek(VEN_OUTBOX_TOPIC, limit)).map((e) => ({ seq: e.seq, item: e.payload }));
  }
  async ack(seqs: number[]): Promise<void> {
    await this.outbox.ack(VEN_OUTBOX_TOPIC, seqs);
  }
  size(): Promise<number> {
    return this.outbox.size(VEN_OUTBOX_TOPIC);
  }
}

/** What the report sources read: admitted devices' readings and the control state. */
export interface TelemetryView {
  /** The latest reading of an admitted device. */
  reading(deviceId: string): DeviceReading | undefined;
  activeCommand(deviceId: string): DeviceCommand | undefined;
  normalOf(deviceId: string): OwnerNormal | undefined;
}

/** The device id of a data point id `<deviceId>/<quantity>`. */
function deviceOf(rID: string): string {
  const i = rID.lastIndexOf('/');
  return i < 0 ? rID : rID.slice(0, i);
}

/** The current value of one data point, in the report's units (W or kW, Wh or kWh, %, status). */
export function readDataPoint(view: TelemetryView, rID: string, opts: TelemetryOptions = {}): number | OadrResourceStatus | undefined {
  const id = deviceOf(rID);
  const r = view.reading(id);
  if (!r) return undefined;
  for (const p of readingToUsage(r, opts)) if (p.rID === rID) return p.value;
  for (const p of readingToStatus(r, view.activeCommand(id), view.normalOf(id))) {
    if (p.rID === rID) return p.status ? statusOf(p.status) : p.value;
  }
  return undefined;
}

/**
 * The two report sources the gateway offers the VEN. Their `descriptions` arrays are updated
 * in place (`setDescriptions`) when the inventory changes, before the gateway re-registers.
 */
export class GatewayReportSources {
  readonly usage: VenReportSource;
  readonly status: VenReportSource;

  constructor(private readonly view: TelemetryView, private readonly opts: TelemetryOptions = {}) {
    this.usage = {
      reportSpecifierID: SPECIFIER.usage,
      reportName: 'TELEMETRY_USAGE',
      descriptions: [],
      read: (rID: string, _now: EpochMillis) => readDataPoint(this.view, rID, this.opts),
    };
    this.status = {
      reportSpecifierID: SPECIFIER.status,
      reportName: 'TELEMETRY_STATUS',
      descriptions: [],
      read: (rID: string, _now: EpochMillis) => readDataPoint(this.view, rID, this.opts),
    };
  }

  list(): VenReportSource[] {
    return [this.usage, this.status];
  }

  setDescriptions(d: { TELEMETRY_USAGE: ReportDescription[]; TELEMETRY_STATUS: ReportDescription[] }): void {
    this.usage.descriptions.splice(0, this.usage.descriptions.length, ...d.TELEMETRY_USAGE);
    this.status.descriptions.splice(0, this.status.descriptions.length, ...d.TELEMETRY_STATUS);
  }
}
