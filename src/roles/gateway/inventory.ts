/**
 * Device inventory upload (自家用電気工作物 cybersecurity guideline 8-2 機器の管理: know every
 * device and its software version; ERAB guideline §3.2 vulnerability handling needs it).
 *
 * ## Format and transport (our choice, documented here)
 * The inventory travels in the standard OpenADR METADATA registration (oadrRegisterReport,
 * OpenADR 2.0b Profile Specification §8.3.2), with one erab extension that any 2.0b schema
 * validator accepts:
 * - one oadrReportDescription per data point (rID), whose ei:reportDataSource names the device:
 *   ei:resourceID = deviceId (the OpenADR resource), and power:endDeviceAsset/power:mrid = the
 *   device's **asset URN** (`assetUrn`):
 *   `urn:erab:asset:<EOJ>;class=battery;maker=00007B;product=...;serial=...;id=FE...;std=J;fw=1.2.3;loc=garden;state=pending;rev=1`
 *   (each value percent-encoded; fields without a value are left out). It carries the ECHONET
 *   Lite object (class code + instance), maker code (0x8A), product code (0x8C), serial number
 *   (0x8D), identification number (0x83), standard version (0x82, the APPENDIX release letter),
 *   firmware version where the maker exposes one, installation location (0x81), and the
 *   admission state and revision (so pending and quarantined devices are reported too).
 * - The same data as a JSON document (`InventoryDocument`, format `erab-inventory/1`) is what
 *   the gateway builds first; its canonical form (keys sorted) and SHA-256 digest identify a
 *   revision. Whenever the digest changes (a device appears, is admitted, quarantined or
 *   updated) the gateway registers its reports again — in OpenADR a re-registration is exactly
 *   "my reporting capabilities changed" — so the aggregator's copy is kept current.
 * `parseAssetUrn` is the aggregator-side reader.
 */
import { createHash } from 'node:crypto';
import type { EpochMillis } from '../../core/units.js';
import type { AdmissionState, DeviceRecord } from './admission.js';
import { deviceClass, type Telemetry } from '../../core/domain/device-classes.js';
import { ECHONET_CLASS_CODE, type DeviceClass } from './types.js';

export const INVENTORY_FORMAT = 'erab-inventory/1';

/** Version and location data read from the device (ECHONET Lite superclass properties). */
export interface DeviceDetails {
  /** 0x82 standard version information: the APPENDIX release letter, e.g. "J". */
  standardVersion?: string | undefined;
  /** Firmware / software version where the maker exposes one (often a maker-specific EPC). */
  firmwareVersion?: string | undefined;
  /** 0x81 installation location, decoded (e.g. "living room", "garden", "location code 0x61"). */
  installationLocation?: string | undefined;
  /** 0x8C of the device object itself (the node profile's may name the whole unit). */
  productCode?: string | undefined;
}

export interface InventoryItem {
  resourceId: string;
  class: DeviceClass;
  /** ECHONET Lite class code, e.g. "027D", and instance, e.g. "01". */
  echonetClass: string;
  instance: string;
  address: string;
  makerCode: string;
  productCode?: string | undefined;
  serialNumber?: string | undefined;
  identificationNumber?: string | undefined;
  standardVersion?: string | undefined;
  firmwareVersion?: string | undefined;
  installationLocation?: string | undefined;
  admission: AdmissionState;
  admissionRevision: number;
  /** When quarantined: the identity seen instead of the admitted one. */
  observed?: { makerCode: string; productCode?: string | undefined; serialNumber?: string | undefined; identificationNumber?: string | undefined } | undefined;
  firstSeen: string;
}

export interface InventoryDocument {
  format: typeof INVENTORY_FORMAT;
  gatewayId: string;
  venId: string;
  /** SHA-256 (hex) of the canonical JSON of `devices`. */
  digest: string;
  generatedAt: string;
  devices: InventoryItem[];
}

/** JSON with object keys sorted and undefined dropped: the same data always gives the same bytes. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
}

/** The inventory item of one admission record plus what was read from the device. */
export function inventoryItem(r: DeviceRecord, details: DeviceDetails = {}): InventoryItem {
  const code = ECHONET_CLASS_CODE[r.class].toString(16).toUpperCase().padStart(4, '0');
  const o = r.observedIdentity;
  return {
    resourceId: r.deviceId,
    class: r.class,
    echonetClass: r.eoj.slice(0, 4) || code,
    instance: r.eoj.slice(4, 6),
    address: r.address,
    makerCode: r.identity.makerCode.toUpperCase(),
    productCode: details.productCode ?? r.identity.productCode,
    serialNumber: r.identity.serialNumber,
    identificationNumber: r.identity.identificationNumber?.toUpperCase(),
    standardVersion: details.standardVersion,
    firmwareVersion: details.firmwareVersion,
    installationLocation: details.installationLocation,
    admission: r.state,
    admissionRevision: r.revision,
    observed: o ? { makerCode: o.makerCode.toUpperCase(), productCode: o.productCode, serialNumber: o.serialNumber, identificationNumber: o.identificationNumber?.toUpperCase() } : undefined,
    firstSeen: new Date(r.firstSeen).toISOString(),
  };
}

/**
 * Builds the inventory document: devices sorted by resourceId, digest over their canonical JSON
 * (the generation time is outside the digest, so an unchanged inventory keeps its digest).
 */
export function buildInventory(
  gateway: { gatewayId: string; venId: string },
  records: readonly DeviceRecord[],
  details: ReadonlyMap<string, DeviceDetails>,
  now: EpochMillis,
): InventoryDocument {
  const devices = records.map((r) => inventoryItem(r, details.get(r.deviceId))).sort((a, b) => (a.resourceId < b.resourceId ? -1 : 1));
  const digest = createHash('sha256').update(canonicalJson(devices)).digest('hex');
  return { format: INVENTORY_FORMAT, gatewayId: gateway.gatewayId, venId: gateway.venId, digest, generatedAt: new Date(now).toISOString(), devices };
}

/** Remembers the digest the aggregator acknowledged; tells when a new upload is due. */
export class InventoryTracker {
  private acknowledged: string | undefined;
  constructor(initial?: string) {
    this.acknowledged = initial;
  }
  /** True when `doc` differs from what the aggregator last acknowledged. */
  needsUpload(doc: InventoryDocument): boolean {
    return doc.digest !== this.acknowledged;
  }
  /** Call after the aggregator acknowledged the upload of `doc`. */
  acknowledge(doc: InventoryDocument): void {
    this.acknowledged = doc.digest;
  }
  acknowledgedDigest(): string | undefined {
    return this.acknowledged;
  }
}

/** One data point the gateway offers in its METADATA report (oadrReportDescription). */
export interface DataPointDescription {
  rID: string;
  resourceID: string;
  reportName: 'TELEMETRY_USAGE' | 'TELEMETRY_STATUS';
  reportType: 'usage' | 'storedEnergy' | 'x-resourceStatus';
  readingType: 'Direct Read' | 'x-notApplicable';
  itemBase?: { itemBase: 'powerReal' | 'energyReal' | 'customUnit'; itemDescription: string; units: 'W' | 'Wh' | '%' } | undefined;
}

type PointTemplate = Omit<DataPointDescription, 'rID' | 'resourceID'>;
const point = (suffix: Telemetry, p: PointTemplate) => (id: string): DataPointDescription => ({ rID: `${id}/${suffix}`, resourceID: id, ...p });
const TELEMETRY_ORDER: readonly Telemetry[] = ['power', 'energy', 'status', 'soc', 'stored'];
/** The OpenADR data point of each kind of telemetry (rID `<device id>/<telemetry>`). */
const DATA_POINT: Readonly<Record<Telemetry, (id: string) => DataPointDescription>> = {
  power: point('power', { reportName: 'TELEMETRY_USAGE', reportType: 'usage', readingType: 'Direct Read', itemBase: { itemBase: 'powerReal', itemDescription: 'RealPower', units: 'W' } }),
  energy: point('energy', { reportName: 'TELEMETRY_USAGE', reportType: 'usage', readingType: 'Direct Read', itemBase: { itemBase: 'energyReal', itemDescription: 'RealEnergy', units: 'Wh' } }),
  status: point('status', { reportName: 'TELEMETRY_STATUS', reportType: 'x-resourceStatus', readingType: 'x-notApplicable' }),
  soc: point('soc', { reportName: 'TELEMETRY_STATUS', reportType: 'storedEnergy', readingType: 'Direct Read', itemBase: { itemBase: 'customUnit', itemDescription: 'stateOfCharge', units: '%' } }),
  stored: point('stored', { reportName: 'TELEMETRY_STATUS', reportType: 'storedEnergy', readingType: 'Direct Read', itemBase: { itemBase: 'energyReal', itemDescription: 'RealEnergy', units: 'Wh' } }),
};

/**
 * The data points each device offers, by class (the registry's telemetry), with the same rIDs as translate.ts produces:
 * `<id>/power`, `<id>/energy` (meter), `<id>/status`, `<id>/soc` and `<id>/stored` (battery, EV).
 */
export function describeDataPoints(devices: readonly { deviceId: string; class: DeviceClass }[]): DataPointDescription[] {
  const out: DataPointDescription[] = [];
  for (const d of devices) {
    // The registry says what each class reports; the order here is the order of the reports.
    const telemetry: readonly Telemetry[] = deviceClass(d.class).telemetry;
    for (const t of TELEMETRY_ORDER) if (telemetry.includes(t)) out.push(DATA_POINT[t](d.deviceId));
  }
  return out;
}

const URN_PREFIX = 'urn:erab:asset:';
/** Asset URN field names, in the order they are written. */
const URN_FIELDS: [string, keyof InventoryItem][] = [
  ['class', 'class'], ['maker', 'makerCode'], ['product', 'productCode'], ['serial', 'serialNumber'],
  ['id', 'identificationNumber'], ['std', 'standardVersion'], ['fw', 'firmwareVersion'], ['loc', 'installationLocation'],
  ['state', 'admission'], ['rev', 'admissionRevision'],
];

/**
 * The asset URN of one inventory item (the power:mrid of its endDeviceAsset in METADATA).
 * @example assetUrn(item) // 'urn:erab:asset:027D01;class=battery;maker=00007B;product=ERAB-BAT-1;serial=SN0001;state=pending;rev=1'
 */
export function assetUrn(item: InventoryItem): string {
  const parts = [`${URN_PREFIX}${item.echonetClass}${item.instance}`];
  for (const [k, field] of URN_FIELDS) {
    const v = item[field];
    if (v === undefined || v === '') continue;
    parts.push(`${k}=${encodeURIComponent(String(v))}`);
  }
  return parts.join(';');
}

/** What an asset URN says, or undefined when the text is not an erab asset URN. */
export function parseAssetUrn(urn: string): Record<string, string> & { eoj: string } | undefined {
  if (!urn.startsWith(URN_PREFIX) || urn.length > 2000) return undefined;
  const [head, ...rest] = urn.slice(URN_PREFIX.length).split(';');
  if (!head || !/^[0-9A-F]{6}$/.test(head)) return undefined;
  const out: Record<string, string> & { eoj: string } = { eoj: head };
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    try {
      out[part.slice(0, eq)] = decodeURIComponent(part.slice(eq + 1));
    } catch {
      return undefined;
    }
  }
  return out;
}
