/**
 * Validation of portfolio entities, shared by the JSON and CSV importers. Field names are the
 * JSON ones (camelCase); the CSV importer maps its columns onto them and back for messages.
 *
 * Rules per resource class (what makes physical sense, so a typo cannot make a PV panel
 * "discharge" or a battery 100 times larger than its inverter):
 * - battery, ev: maxChargeW / maxDischargeW and backupReservePercent allowed; capacityWh > 0
 *   when given (without it the resource is listed but not dispatchable, see ./allocatable.ts).
 * - water_heater: capacityWh allowed (tank heat), no charge/discharge.
 * - pv: can only curtail (increase net consumption): maxReduceW must be 0 if given.
 * - meter: measures only: no limits at all.
 * - aircon: comfortBand allowed (minC < maxC).
 * - every limit ≤ capacityW when both are known.
 */
import { z } from 'zod';
import { MARKET_PRODUCTS, RESOURCE_CLASSES, TSO_AREAS, type OwnerConstraints, type ResourceClass } from './types.js';
import { canDispatch, deviceClass, isStorageKind, kindsWhere } from '../../../core/domain/device-classes.js';
import type { DispatchDirection } from '../../../core/domain/direction.js';

/** Ids: what OpenADR resourceIDs and our own site/gateway ids look like; no spaces or controls. */
export const idSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$/, {
  error: 'must be 1..128 characters: letters, digits and . _ : @ / - (starting with a letter or digit)',
});
// eslint-disable-next-line no-control-regex
// A leading = + - @ makes spreadsheets evaluate the cell as a formula when the portfolio is
// exported and opened (CSV injection), so free text may not start with one.
const textSchema = (max: number) =>
  z.string()
    .max(max, { error: `must be at most ${max} characters` })
    .regex(/^[^\u0000-\u001f\u007f]*$/, { error: 'must not contain control characters' })
    .regex(/^(?![=+\-@])/, { error: 'must not start with = + - or @ (a spreadsheet would run it as a formula)' });
const watts = z.number({ error: 'must be a number of watts' }).min(0, { error: 'must be ≥ 0' }).max(1e9, { error: 'must be ≤ 1e9 W (1 GW)' });
const wattHours = z.number({ error: 'must be a number of watt-hours' }).min(0, { error: 'must be ≥ 0' }).max(1e10, { error: 'must be ≤ 1e10 Wh' });

export const constraintsSchema = z.strictObject({
  backupReservePercent: z.number().min(0, { error: 'must be 0..100' }).max(100, { error: 'must be 0..100' }).optional(),
  comfortBand: z
    .strictObject({ minC: z.number().min(10).max(35), maxC: z.number().min(10).max(35) })
    .refine((b) => b.minC < b.maxC, { error: 'minC must be below maxC', path: ['maxC'] })
    .optional(),
  maxReductionMinutes: z.number().int().min(1).max(1440).optional(),
});

export const poolSchema = z.strictObject({
  id: idSchema,
  name: textSchema(200).optional(),
  tsoArea: z.enum(TSO_AREAS, { error: `must be one of ${TSO_AREAS.join(', ')}` }),
  product: z.enum(MARKET_PRODUCTS, { error: `must be one of ${MARKET_PRODUCTS.join(', ')}` }),
  program: textSchema(200).min(1, { error: 'is required' }),
});
export type PoolInput = z.infer<typeof poolSchema>;

export const siteSchema = z.strictObject({
  id: idSchema,
  name: textSchema(200).min(1, { error: 'is required' }),
  tsoArea: z.enum(TSO_AREAS, { error: `must be one of ${TSO_AREAS.join(', ')}` }),
  address: textSchema(500).optional(),
  poolId: idSchema.optional(),
});
export type SiteInput = z.infer<typeof siteSchema>;

export const gatewaySchema = z.strictObject({
  id: idSchema,
  siteId: idSchema,
  venId: idSchema.optional(),
});
export type GatewayInput = z.infer<typeof gatewaySchema>;

/** The storage kinds, for messages ("battery and ev"). */
const STORAGE_ONLY = kindsWhere((c) => c.storage).join(' and ');

export const resourceSchema = z
  .strictObject({
    id: idSchema,
    siteId: idSchema,
    gatewayId: idSchema.optional(),
    poolId: idSchema.optional(),
    class: z.enum(RESOURCE_CLASSES, { error: `must be one of ${RESOURCE_CLASSES.join(', ')}` }),
    name: textSchema(200).optional(),
    capacityW: watts.optional(),
    capacityWh: wattHours.optional(),
    maxChargeW: watts.optional(),
    maxDischargeW: watts.optional(),
    maxReduceW: watts.optional(),
    maxIncreaseW: watts.optional(),
    constraints: constraintsSchema.optional(),
    makerCode: z.string().regex(/^[0-9A-Fa-f]{6}$/, { error: 'must be 6 hex digits (ECHONET Lite 0x8A maker code)' }).optional(),
    productCode: textSchema(64).optional(),
    serialNumber: textSchema(64).optional(),
    firmwareVersion: textSchema(64).optional(),
    standardVersion: textSchema(16).optional(),
    installationLocation: textSchema(100).optional(),
  })
  .superRefine((r, ctx) => {
    const bad = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const storage = isStorageKind(r.class);
    if (storage) {
      // Optional (a battery discovered by a gateway has no ratings yet; it is simply not
      // dispatchable until they are known), but a storage resource cannot hold 0 Wh.
      if (r.capacityWh === 0) bad('capacityWh', `must be > 0 for class ${r.class}`);
    } else {
      if (r.maxChargeW !== undefined) bad('maxChargeW', `does not apply to class ${r.class} (${STORAGE_ONLY} only)`);
      if (r.maxDischargeW !== undefined) bad('maxDischargeW', `does not apply to class ${r.class} (${STORAGE_ONLY} only)`);
      if (r.capacityWh !== undefined && r.class !== 'water_heater') bad('capacityWh', `does not apply to class ${r.class}`);
      if (r.constraints?.backupReservePercent !== undefined) bad('constraints.backupReservePercent', `does not apply to class ${r.class} (${STORAGE_ONLY} only)`);
    }
    if (r.constraints?.comfortBand !== undefined && r.class !== 'aircon') bad('constraints.comfortBand', `does not apply to class ${r.class} (aircon only)`);
    const cls = deviceClass(r.class);
    if (cls.controllable && !canDispatch(r.class, 'reduce') && r.maxReduceW !== undefined && r.maxReduceW > 0) {
      // e.g. pv: a PV system can only curtail (increase net consumption).
      bad('maxReduceW', `must be 0 for ${r.class}: a ${cls.name} can only be dispatched to increase net consumption`);
    }
    if (!cls.controllable) {
      for (const f of ['capacityW', 'maxReduceW', 'maxIncreaseW'] as const) {
        if (r[f] !== undefined && r[f] > 0) bad(f, `does not apply to class ${r.class} (it measures, it is not dispatched)`);
      }
    }
    if (r.capacityW !== undefined) {
      for (const f of ['maxChargeW', 'maxDischargeW', 'maxReduceW', 'maxIncreaseW'] as const) {
        const v = r[f];
        if (v !== undefined && v > r.capacityW) bad(f, `${v} W exceeds the resource's capacityW of ${r.capacityW} W`);
      }
    }
  });
export type ResourceInput = z.infer<typeof resourceSchema>;

/** The JSON import document. */
export const PORTFOLIO_FORMAT = 'erab-portfolio/1';
export const portfolioDocumentSchema = z.strictObject({
  format: z.literal(PORTFOLIO_FORMAT, { error: `must be "${PORTFOLIO_FORMAT}"` }).optional(),
  pools: z.array(z.unknown()).max(10_000).optional(),
  sites: z.array(z.unknown()).max(1_000_000).optional(),
  gateways: z.array(z.unknown()).max(1_000_000).optional(),
  resources: z.array(z.unknown()).max(1_000_000).optional(),
});

/**
 * Default dispatchable limits of a resource when the operator gave none, from its class and
 * ratings (magnitudes in the direction: reduce = less net consumption). A direction the class
 * cannot be dispatched in (registry) defaults to 0; the other to the rating (discharge / charge
 * for storage, capacityW otherwise). A class that is not controllable (a meter) is 0 both ways.
 */
export function defaultLimits(r: ResourceInput): { maxReduceW: number | null; maxIncreaseW: number | null } {
  const cls = deviceClass(r.class);
  if (!cls.controllable) return { maxReduceW: 0, maxIncreaseW: 0 };
  const cap = r.capacityW ?? null;
  const rated = (d: DispatchDirection): number | null => {
    if (!canDispatch(r.class, d)) return 0;
    if (cls.storage) return (d === 'reduce' ? r.maxDischargeW : r.maxChargeW) ?? cap;
    return cap;
  };
  return { maxReduceW: r.maxReduceW ?? rated('reduce'), maxIncreaseW: r.maxIncreaseW ?? rated('increase') };
}

export function constraintsOf(r: ResourceInput): OwnerConstraints {
  return (r.constraints ?? {}) as OwnerConstraints;
}
