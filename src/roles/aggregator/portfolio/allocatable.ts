/**
 * From portfolio rows to the allocation's input (../allocation/types.ts). The portfolio knows
 * ratings, limits and owner constraints; the live state (stored energy, reliability, the
 * owner's availability) comes from telemetry and history, so the caller passes it in.
 *
 * A resource is dispatchable only when it can be commanded: still listed by its gateway,
 * admitted there (a pending or quarantined device is never sent a command — 自家用GL 6-2
 * connection control), not a meter, and with some power in one direction.
 */
import { DEVICE_KINDS, deviceClass, isStorageKind } from '../../../core/domain/device-classes.js';
import type { WattHours, Watts } from '../../../core/units.js';
import type { AllocatableResource, StorageState } from '../allocation/types.js';
import type { Resource, ResourceClass } from './types.js';

/** What the caller knows now about one resource. */
export interface LiveState {
  /** Stored energy now (battery, EV). Without it a storage resource is not dispatchable. */
  socWh?: WattHours;
  /** Share of past instructions followed, 0..1. */
  reliability?: number;
  availability?: AllocatableResource['availability'];
}

/** Merit-order cost per delivered kWh by class when the caller has no better figure (the registry's). */
export const DEFAULT_COST_PER_KWH: Readonly<Record<ResourceClass, number>> = Object.fromEntries(
  DEVICE_KINDS.map((k) => [k, deviceClass(k).defaultCostPerKWh]),
) as Record<ResourceClass, number>;

/** Why a resource is left out of allocation, or undefined when it can take part. */
export function notDispatchableReason(r: Resource, live: LiveState = {}): string | undefined {
  if (!r.present) return 'not listed by its gateway any more';
  if (r.admission !== null && r.admission !== 'admitted') return `device is ${r.admission} at its gateway`;
  if (!deviceClass(r.class).controllable) return `a ${r.class} is not dispatched`;
  if ((r.maxReduceW ?? 0) <= 0 && (r.maxIncreaseW ?? 0) <= 0) return 'no power limits known';
  if (isStorageKind(r.class) && (r.capacityWh === null || live.socWh === undefined)) return 'stored energy unknown';
  return undefined;
}

/**
 * The allocation view of a dispatchable resource, or undefined (see notDispatchableReason).
 * @example
 * const pool = (await portfolio.poolResources('tokyo-t2')).map((r) => toAllocatable(r, live.get(r.id))).filter((x) => x !== undefined);
 */
export function toAllocatable(r: Resource, live: LiveState = {}, costPerKWh: Readonly<Record<ResourceClass, number>> = DEFAULT_COST_PER_KWH): AllocatableResource | undefined {
  if (notDispatchableReason(r, live) !== undefined) return undefined;
  let storage: StorageState | undefined;
  if (isStorageKind(r.class)) {
    const cap = r.capacityWh as number;
    storage = {
      capacityWh: cap as WattHours,
      socWh: Math.min(Math.max(live.socWh as number, 0), cap) as WattHours,
      ...(r.constraints.backupReservePercent !== undefined ? { reservePercent: r.constraints.backupReservePercent } : {}),
    };
  }
  return {
    id: r.id,
    resourceClass: deviceClass(r.class).allocationClass,
    maxReduceW: (r.maxReduceW ?? 0) as Watts,
    maxIncreaseW: (r.maxIncreaseW ?? 0) as Watts,
    costPerKWh: costPerKWh[r.class],
    ...(storage ? { storage } : {}),
    ...(live.reliability !== undefined ? { reliability: live.reliability } : {}),
    ...(live.availability !== undefined ? { availability: live.availability } : {}),
  };
}
