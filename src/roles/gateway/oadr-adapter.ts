/**
 * The OpenADR edge of the gateway: converts the codec's messages (src/protocols/openadr) to the
 * gateway's own types and back. Pure functions.
 *
 * - oadrDistributeEvent → GuardPayload (for the command guard) and GatewayEvent (for the engine);
 * - telemetry points → report payload values (TELEMETRY_STATUS resource status);
 * - data points + inventory → the METADATA descriptions of oadrRegisterReport (see inventory.ts
 *   for the asset URN carried in reportDataSource/endDeviceAsset).
 */
import type { Millis } from '../../core/units.js';
import type { EiTarget } from '../../protocols/openadr/common.js';
import type { OadrDistributeEvent, OadrEvent } from '../../protocols/openadr/event.js';
import type { ItemBase, PowerAttributes } from '../../protocols/openadr/units.js';
import type { ReportDescription, ResourceStatus as OadrResourceStatus } from '../../protocols/openadr/report.js';
import type { GuardEvent, GuardPayload, GuardTarget } from './command-guard.js';
import type { GatewayEvent, ScheduledSignal } from './engine.js';
import type { DataPointDescription } from './inventory.js';
import type { ResourceStatus, TelemetryPoint } from './translate.js';

/** The eiTarget forms a gateway can own; every other form is listed in `other` (refused by the guard). */
export function guardTargetOf(t: EiTarget | undefined): GuardTarget {
  if (!t) return {};
  const other: string[] = [];
  for (const k of ['aggregatedPnode', 'endDeviceAsset', 'meterAsset', 'pnode', 'serviceDeliveryPoint', 'groupName'] as const) {
    if ((t[k] ?? []).length > 0) other.push(k);
  }
  return {
    venID: t.venID, resourceID: t.resourceID, groupID: t.groupID, partyID: t.partyID,
    other: other.length > 0 ? other : undefined,
  };
}

/** Signal intervals laid end to end from the event start (OpenADR 2.0b: interval dtstart optional). */
function scheduledSignals(e: OadrEvent): ScheduledSignal[] {
  return e.signals.map((s) => {
    let offset = 0;
    const intervals = s.intervals.map((iv) => {
      const start = iv.dtstart !== undefined ? iv.dtstart - e.activePeriod.dtstart : offset;
      const duration = iv.duration ?? 0;
      offset = start + duration;
      return { startOffsetMs: start, durationMs: duration, value: iv.value };
    });
    return {
      // 2.0a spelled it "simple"; the schema still allows it.
      name: s.signalName === 'simple' ? 'SIMPLE' : s.signalName,
      type: s.signalType,
      unit: s.itemBase ? { itemBase: s.itemBase.kind, units: s.itemBase.itemUnits, siScaleCode: s.itemBase.siScaleCode } : undefined,
      intervals,
      target: s.target ? guardTargetOf(s.target) : undefined,
    };
  });
}

/** The engine's view of one oadrEvent. */
export function gatewayEventOf(e: OadrEvent): GatewayEvent {
  return {
    eventID: e.descriptor.eventID,
    modificationNumber: e.descriptor.modificationNumber,
    status: e.descriptor.eventStatus,
    start: e.activePeriod.dtstart,
    durationMs: e.activePeriod.duration,
    rampUpMs: e.activePeriod.rampUp,
    target: guardTargetOf(e.target),
    signals: scheduledSignals(e),
    // The arbitration between overlapping events on one device (arbitration.ts) reads it.
    ...(e.descriptor.priority !== undefined ? { priority: e.descriptor.priority } : {}),
  };
}

/** The guard's view of one oadrEvent. */
export function guardEventOf(e: OadrEvent): GuardEvent {
  const g = gatewayEventOf(e);
  return {
    eventID: g.eventID,
    modificationNumber: g.modificationNumber,
    status: g.status,
    start: g.start,
    durationMs: g.durationMs,
    target: g.target,
    signals: g.signals.map((s) => ({ signal: { name: s.name, type: s.type, value: s.intervals[0]?.value ?? 0, unit: s.unit }, target: s.target })),
  };
}

/** The guard's view of a received oadrDistributeEvent, with the raw XML for the signature check. */
export function guardPayloadOf(rawXml: string, d: OadrDistributeEvent): GuardPayload {
  return { rawXml, vtnID: d.vtnID, events: d.events.map(guardEventOf) };
}

function dropUndefined<T extends object>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}

/** A TELEMETRY_STATUS value as the codec encodes it (no undefined members). */
export function statusOf(s: ResourceStatus): OadrResourceStatus {
  return dropUndefined(s) as OadrResourceStatus;
}

/** The item base of a telemetry point, as the codec encodes it. */
export function itemBaseOf(p: { unit?: TelemetryPoint['unit'] }, power: PowerAttributes): ItemBase | undefined {
  const u = p.unit;
  if (!u) return undefined;
  if (u.itemBase === 'powerReal') return { kind: 'powerReal', itemDescription: u.itemDescription, itemUnits: 'W', siScaleCode: u.siScaleCode, powerAttributes: power };
  if (u.itemBase === 'energyReal') return { kind: 'energyReal', itemDescription: u.itemDescription, itemUnits: 'Wh', siScaleCode: u.siScaleCode };
  return { kind: 'customUnit', itemDescription: u.itemDescription, itemUnits: u.units, siScaleCode: u.siScaleCode };
}

/** Report specifier ids of the gateway's METADATA reports. */
export const SPECIFIER = { usage: 'erab-telemetry-usage', status: 'erab-telemetry-status' } as const;

/**
 * The METADATA descriptions (oadrReportDescription) of the gateway's TELEMETRY_USAGE and
 * TELEMETRY_STATUS reports: every data point names its device (reportDataSource/resourceID) and
 * the device's asset URN (reportDataSource/endDeviceAsset, see inventory.ts).
 */
export function descriptionsOf(
  points: readonly DataPointDescription[],
  assets: ReadonlyMap<string, string>,
  power: PowerAttributes,
  samplingMs: { min: number; max: number },
  scale: { power: 'none' | 'k'; energy: 'none' | 'k' } = { power: 'none', energy: 'none' },
): Record<DataPointDescription['reportName'], ReportDescription[]> {
  const desc = (name: DataPointDescription['reportName']): ReportDescription[] => points.filter((p) => p.reportName === name).map((p) => {
    const asset = assets.get(p.resourceID);
    const d: ReportDescription = {
      rID: p.rID,
      reportDataSource: { resourceID: [p.resourceID], ...(asset ? { endDeviceAsset: [asset] } : {}) },
      reportType: p.reportType,
      readingType: p.readingType,
      samplingRate: { minPeriod: samplingMs.min as Millis, maxPeriod: samplingMs.max as Millis, onChange: false },
    };
    if (p.itemBase) {
      const siScaleCode = p.itemBase.itemBase === 'powerReal' ? scale.power : p.itemBase.itemBase === 'energyReal' ? scale.energy : 'none';
      const ib = itemBaseOf({ unit: { ...p.itemBase, siScaleCode } }, power);
      if (ib) d.itemBase = ib;
    }
    return d;
  });
  return { TELEMETRY_USAGE: desc('TELEMETRY_USAGE'), TELEMETRY_STATUS: desc('TELEMETRY_STATUS') };
}
