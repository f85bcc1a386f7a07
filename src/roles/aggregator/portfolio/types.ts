/**
 * The aggregator's portfolio: what it can dispatch and where it sits.
 *
 *   pool (TSO area × market product × upstream program)
 *     └─ resources ── each at a site (a customer's premises, in one TSO area)
 *                     and, when controlled through a gateway (HEMS/BEMS), behind that gateway.
 *
 * A pool is the unit the aggregator offers upstream: balancing capacity is procured and
 * dispatched per TSO service area (一般送配電事業者の供給区域) and per product, so a resource
 * can only join a pool of its site's area. Powers are W, energies Wh (src/core/units.ts).
 */
import { DEVICE_KINDS, type DeviceKind } from '../../../core/domain/device-classes.js';
import type { EpochMillis, Percent, WattHours, Watts } from '../../../core/units.js';

/** The ten general transmission and distribution operators' service areas (供給区域). */
export const TSO_AREAS = [
  'hokkaido', 'tohoku', 'tokyo', 'chubu', 'hokuriku', 'kansai', 'chugoku', 'shikoku', 'kyushu', 'okinawa',
] as const;
export type TsoArea = (typeof TSO_AREAS)[number];

/**
 * Market products a pool is offered in: the balancing market (需給調整市場) products, with the
 * ids the TSO role uses (一次 primary, 二次① secondary1, 二次② secondary2, 三次① tertiary1,
 * 三次② tertiary2), the capacity market's demand-response resource (容量市場 発動指令電源) and a
 * retailer's DR programme (小売DR, interface R2).
 */
export const MARKET_PRODUCTS = [
  'primary', 'secondary1', 'secondary2', 'tertiary1', 'tertiary2', 'capacity', 'retail_dr',
] as const;
export type MarketProduct = (typeof MARKET_PRODUCTS)[number];

/**
 * Resource classes the portfolio knows: every kind of the domain registry
 * (src/core/domain/device-classes.ts); `load` = a controllable building/factory load (BEMS/FEMS).
 */
export const RESOURCE_CLASSES: readonly ResourceClass[] = DEVICE_KINDS;
export type ResourceClass = DeviceKind;

/** Owner constraints: what the owner keeps for themself, whatever the aggregator wants. */
export interface OwnerConstraints {
  /** Battery / EV: share of capacity always kept (backup for outages, departure charge), 0..100 %. */
  backupReservePercent?: Percent;
  /** Air conditioner: set temperature must stay within this band, °C. */
  comfortBand?: { minC: number; maxC: number };
  /** Longest time the owner tolerates a reduction, minutes (loads, water heaters, aircon). */
  maxReductionMinutes?: number;
}

export interface Pool {
  id: string;
  name: string;
  tsoArea: TsoArea;
  product: MarketProduct;
  /** Upstream programme / VTN the pool answers (e.g. the TSO's simple dispatch system). */
  program: string;
  createdAt: EpochMillis;
  updatedAt: EpochMillis;
}

export interface Site {
  id: string;
  name: string;
  tsoArea: TsoArea;
  address: string | null;
  /** Default pool of the site's resources. */
  poolId: string | null;
  createdAt: EpochMillis;
  updatedAt: EpochMillis;
}

export interface Gateway {
  id: string;
  siteId: string;
  /** The OpenADR venID the gateway registers with. */
  venId: string | null;
  /** SHA-256 of the last inventory accepted from it (erab-inventory/1). */
  inventoryDigest: string | null;
  inventoryAt: EpochMillis | null;
  createdAt: EpochMillis;
  updatedAt: EpochMillis;
}

/** Where a resource row came from: an operator's import or a gateway's inventory upload. */
export type ResourceSource = 'import' | 'inventory';

export interface Resource {
  /** Stable id; for devices behind a gateway the OpenADR resourceID the gateway reports. */
  id: string;
  siteId: string;
  gatewayId: string | null;
  poolId: string | null;
  class: ResourceClass;
  name: string;
  /** Rated power (inverter / device rating), W. */
  capacityW: Watts | null;
  /** Usable energy (battery, EV), Wh. */
  capacityWh: WattHours | null;
  maxChargeW: Watts | null;
  maxDischargeW: Watts | null;
  /** Largest reduction of net consumption it can give, W. */
  maxReduceW: Watts | null;
  /** Largest increase of net consumption it can take, W. */
  maxIncreaseW: Watts | null;
  constraints: OwnerConstraints;
  /** ECHONET Lite data from the inventory (自家用GL 8-2 asset management). */
  echonetClass: string | null;
  makerCode: string | null;
  productCode: string | null;
  serialNumber: string | null;
  firmwareVersion: string | null;
  standardVersion: string | null;
  installationLocation: string | null;
  /** Admission state at the gateway (admitted / pending / quarantined / rejected), from the inventory. */
  admission: string | null;
  /** The revision of the gateway's admission record (an admission decision names it), from the inventory. */
  admissionRevision: number | null;
  /** False when the gateway's latest inventory no longer lists it. */
  present: boolean;
  source: ResourceSource;
  createdAt: EpochMillis;
  updatedAt: EpochMillis;
}
