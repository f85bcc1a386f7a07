/**
 * Gateway inventory uploads (自家用電気工作物 cybersecurity guideline 8-2 機器の管理: know every
 * device with its maker, model and software version, discovered rather than typed by hand).
 *
 * A gateway sends an `erab-inventory/1` document (defined by the gateway role: asset data per
 * device, canonical-JSON SHA-256 digest over `devices`) over its mutual-TLS channel. It is
 * untrusted input, so before anything is written:
 * - it is validated (shape, sizes) and its digest recomputed (a mismatch is an IntegrityError);
 * - it must come from the gateway it names (the authenticated peer's id, and the venID
 *   registered for that gateway) — one gateway can never edit another's devices;
 * - it must be newer than the last accepted one (`generatedAt`), so an old inventory cannot be
 *   replayed to hide a firmware update from vulnerability matching, and not from the future;
 * - a device id that belongs to another gateway's resource is refused, not taken over.
 * Then, in one transaction, devices are added or updated (operator-owned fields such as limits,
 * pool and owner constraints are kept) and devices no longer listed are marked not present.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Clock } from '../../../core/clock.js';
import { deviceClass, ECHONET_DEVICE_KINDS } from '../../../core/domain/device-classes.js';
import { IntegrityError, InvalidInputError, NotAuthorizedError, PolicyRefusedError } from '../../../core/errors.js';
import { forUpdate, toDbBool, toJsonText } from '../../../store/schema.js';
import type { StoreDialect } from '../../../store/url.js';
import { resourceSearchText } from './search-text.js';
import type { PortfolioTables } from './tables.js';

export const INVENTORY_FORMAT = 'erab-inventory/1';
/** Largest number of devices one gateway may report. */
export const MAX_INVENTORY_DEVICES = 10_000;
/** How far a gateway's clock may run ahead of ours. */
export const INVENTORY_CLOCK_SKEW_MS = 5 * 60_000;

const hex = (len: number) => z.string().regex(new RegExp(`^[0-9A-Fa-f]{${len}}$`), { error: `must be ${len} hex digits` });
const text = (max: number) => z.string().max(max).regex(/^[^\u0000-\u001f\u007f]*$/, { error: 'must not contain control characters' });

const inventoryDeviceSchema = z.object({
  resourceId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$/, { error: 'must be an id of 1..128 letters, digits and . _ : @ / -' }),
  class: z.enum(ECHONET_DEVICE_KINDS),
  echonetClass: hex(4),
  instance: hex(2),
  address: text(64),
  makerCode: hex(6),
  productCode: text(64).optional(),
  serialNumber: text(64).optional(),
  identificationNumber: text(64).optional(),
  standardVersion: text(16).optional(),
  firmwareVersion: text(64).optional(),
  installationLocation: text(100).optional(),
  admission: z.enum(['admitted', 'pending', 'quarantined', 'rejected']),
  admissionRevision: z.number().int().min(0),
});

const inventorySchema = z.object({
  format: z.literal(INVENTORY_FORMAT, { error: `must be "${INVENTORY_FORMAT}"` }),
  gatewayId: z.string().min(1).max(128),
  venId: z.string().min(1).max(128),
  digest: hex(64),
  generatedAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }),
  devices: z.array(z.unknown()).max(MAX_INVENTORY_DEVICES, { error: `must list at most ${MAX_INVENTORY_DEVICES} devices` }),
});

/** JSON with keys sorted and no whitespace (the digest's input, as the gateway computes it). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
}

/** Who sent the upload, as the mutual-TLS layer established it. */
export interface InventoryUploader {
  /** Participant id of the gateway certificate (urn:erab:gateway:<id>). */
  gatewayId: string;
}

export interface InventoryResult {
  gatewayId: string;
  digest: string;
  /** True when the digest equals the last accepted one: nothing changed. */
  unchanged: boolean;
  added: number;
  updated: number;
  /** Devices of this gateway no longer listed (marked not present). */
  missing: number;
}

/** The portfolio's database and its engine. */
export interface PortfolioDb {
  db: Kysely<PortfolioTables>;
  dialect: StoreDialect;
}

function deviceName(d: z.infer<typeof inventoryDeviceSchema>): string {
  const label = d.class.replace('_', ' ');
  return d.installationLocation ? `${label} (${d.installationLocation})` : `${label} ${d.echonetClass.toUpperCase()}${d.instance.toUpperCase()}`;
}

/**
 * Applies one gateway's inventory upload.
 * @throws InvalidInputError malformed document or device (naming `devices[i].field`), stale or future upload
 * @throws IntegrityError digest mismatch
 * @throws NotAuthorizedError the document names another gateway or venID than the uploader's
 * @throws PolicyRefusedError the gateway is not in the portfolio
 */
export async function upsertGatewayInventory({ db, dialect }: PortfolioDb, uploader: InventoryUploader, document: unknown, clock: Clock): Promise<InventoryResult> {
  const top = inventorySchema.safeParse(document);
  if (!top.success) {
    const is = top.error.issues[0]!;
    throw new InvalidInputError(`inventory from gateway "${uploader.gatewayId}": ${is.path.join('.') || '(document)'}: ${is.message}`, { code: 'inventory_invalid' });
  }
  const doc = top.data;
  const devices: z.infer<typeof inventoryDeviceSchema>[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of doc.devices.entries()) {
    const r = inventoryDeviceSchema.safeParse(raw);
    if (!r.success) {
      const is = r.error.issues[0]!;
      throw new InvalidInputError(`inventory from gateway "${uploader.gatewayId}": devices[${i}].${is.path.join('.')}: ${is.message}`, { code: 'inventory_invalid' });
    }
    if (seen.has(r.data.resourceId)) throw new InvalidInputError(`inventory from gateway "${uploader.gatewayId}": devices[${i}].resourceId: "${r.data.resourceId}" is listed twice`, { code: 'inventory_invalid' });
    seen.add(r.data.resourceId);
    devices.push(r.data);
  }
  const digest = createHash('sha256').update(canonicalJson(doc.devices)).digest('hex');
  if (digest !== doc.digest.toLowerCase()) {
    throw new IntegrityError(`inventory from gateway "${uploader.gatewayId}": digest ${doc.digest} does not match its devices (computed ${digest})`, { code: 'inventory_digest' });
  }
  if (doc.gatewayId !== uploader.gatewayId) {
    throw new NotAuthorizedError(`inventory names gateway "${doc.gatewayId}" but was sent by gateway "${uploader.gatewayId}"`, { code: 'inventory_wrong_gateway' });
  }
  const generatedAt = Date.parse(doc.generatedAt);
  if (generatedAt > clock.now() + INVENTORY_CLOCK_SKEW_MS) {
    throw new InvalidInputError(`inventory from gateway "${uploader.gatewayId}": generatedAt ${doc.generatedAt} is in the future`, { code: 'inventory_future' });
  }
  return applyInventory({ db, dialect }, uploader, { devices, digest, venId: doc.venId, generatedAt, generatedAtText: doc.generatedAt }, clock);
}

type InventoryDevice = z.infer<typeof inventoryDeviceSchema>;

/**
 * The devices a gateway declared in its OpenADR METADATA registration, each with the erab asset
 * URN the gateway puts in the data source's endDeviceAsset (`urn:erab:asset:<EOJ>;class=...;
 * maker=...;product=...;serial=...;id=...;std=...;fw=...;loc=...;state=...;rev=...`, values
 * percent-encoded). The uploader is the TLS peer, so it may only describe its own devices; a
 * registration carries no timestamp of its own, so ordering comes from the session (a later
 * registration replaces an earlier one).
 * @throws InvalidInputError a malformed asset URN (naming the resource), too many resources
 */
export async function acceptDeclaredAssets(
  pdb: PortfolioDb,
  uploader: InventoryUploader,
  declared: readonly { resourceId: string; asset?: string | undefined }[],
  clock: Clock,
): Promise<InventoryResult & { undescribed: number }> {
  if (declared.length > MAX_INVENTORY_DEVICES) {
    throw new InvalidInputError(`registration of gateway "${uploader.gatewayId}" declares ${declared.length} resources, more than ${MAX_INVENTORY_DEVICES}`, { code: 'inventory_invalid' });
  }
  const devices: InventoryDevice[] = [];
  const seen = new Set<string>();
  let undescribed = 0;
  for (const d of declared) {
    if (seen.has(d.resourceId)) continue; // one resource has several data points
    seen.add(d.resourceId);
    if (d.asset === undefined) {
      undescribed++;
      continue;
    }
    const fields = parseAssetUrn(d.asset);
    if (!fields) throw new InvalidInputError(`registration of gateway "${uploader.gatewayId}": resource ${JSON.stringify(d.resourceId.slice(0, 128))}: not an erab asset URN`, { code: 'inventory_invalid' });
    const raw = {
      resourceId: d.resourceId, class: fields.class, echonetClass: fields.eoj.slice(0, 4), instance: fields.eoj.slice(4, 6), address: '',
      makerCode: fields.maker, productCode: fields.product, serialNumber: fields.serial, identificationNumber: fields.id,
      standardVersion: fields.std, firmwareVersion: fields.fw, installationLocation: fields.loc,
      admission: fields.state, admissionRevision: fields.rev === undefined ? undefined : Number(fields.rev),
    };
    const r = inventoryDeviceSchema.safeParse(raw);
    if (!r.success) {
      const is = r.error.issues[0]!;
      throw new InvalidInputError(`registration of gateway "${uploader.gatewayId}": resource ${JSON.stringify(d.resourceId.slice(0, 128))}: ${is.path.join('.')}: ${is.message}`, { code: 'inventory_invalid' });
    }
    devices.push(r.data);
  }
  devices.sort((a, b) => (a.resourceId < b.resourceId ? -1 : a.resourceId > b.resourceId ? 1 : 0));
  const digest = createHash('sha256').update(canonicalJson(devices)).digest('hex');
  const result = await applyInventory(pdb, uploader, { devices, digest }, clock);
  return { ...result, undescribed };
}

/** `urn:erab:asset:<EOJ>;k=v;...` → fields, or undefined when it is not one. */
function parseAssetUrn(urn: string): (Record<string, string | undefined> & { eoj: string }) | undefined {
  const prefix = 'urn:erab:asset:';
  if (typeof urn !== 'string' || !urn.startsWith(prefix) || urn.length > 2000) return undefined;
  const [head, ...rest] = urn.slice(prefix.length).split(';');
  if (!head || !/^[0-9A-Fa-f]{6}$/.test(head)) return undefined;
  const out: Record<string, string | undefined> & { eoj: string } = { eoj: head.toUpperCase() };
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const key = part.slice(0, eq);
    if (!/^[a-z]{1,16}$/.test(key) || key === 'eoj' || Object.hasOwn(out, key)) return undefined;
    try {
      out[key] = decodeURIComponent(part.slice(eq + 1));
    } catch {
      return undefined;
    }
  }
  return out;
}

/** Applies a validated device list of one gateway (shared by both carriers). */
async function applyInventory(
  { db, dialect }: PortfolioDb,
  uploader: InventoryUploader,
  inv: { devices: InventoryDevice[]; digest: string; venId?: string; generatedAt?: number; generatedAtText?: string },
  clock: Clock,
): Promise<InventoryResult> {
  const { devices, digest } = inv;
  const now = clock.now();
  const doc = { venId: inv.venId, generatedAt: inv.generatedAtText };
  const generatedAt = inv.generatedAt ?? now;
  return db.transaction().execute(async (trx) => {
    // Lock the gateway row (PostgreSQL) so two uploads of one gateway apply one after the other.
    const gw = await forUpdate(trx
      .selectFrom('portfolio_gateway')
      .innerJoin('portfolio_site', 'portfolio_site.id', 'portfolio_gateway.site_id')
      .select(['portfolio_gateway.id', 'portfolio_gateway.site_id', 'portfolio_gateway.ven_id', 'portfolio_gateway.inventory_digest', 'portfolio_gateway.inventory_at', 'portfolio_site.pool_id'])
      .where('portfolio_gateway.id', '=', uploader.gatewayId), dialect)
      .executeTakeFirst();
    if (!gw) throw new PolicyRefusedError(`gateway "${uploader.gatewayId}" is not in the portfolio: import it (with its site) before it can upload an inventory`, { code: 'unknown_gateway' });
    if (doc.venId !== undefined && gw.ven_id !== null && gw.ven_id !== doc.venId) {
      throw new NotAuthorizedError(`inventory from gateway "${uploader.gatewayId}" names venID "${doc.venId}", the portfolio has "${gw.ven_id}"`, { code: 'inventory_wrong_ven' });
    }
    if (gw.inventory_digest === digest) return { gatewayId: gw.id, digest, unchanged: true, added: 0, updated: 0, missing: 0 };
    if (inv.generatedAt !== undefined && gw.inventory_at !== null && generatedAt <= Number(gw.inventory_at)) {
      throw new InvalidInputError(
        `inventory from gateway "${uploader.gatewayId}": generatedAt ${doc.generatedAt} is not newer than the accepted one (${new Date(Number(gw.inventory_at)).toISOString()}); a replayed or reordered upload`,
        { code: 'inventory_stale' },
      );
    }

    const ids = devices.map((d) => d.resourceId);
    const existing = new Map<string, PortfolioTables['portfolio_resource']>();
    for (let i = 0; i < ids.length; i += 500) {
      for (const r of await trx.selectFrom('portfolio_resource').selectAll().where('id', 'in', ids.slice(i, i + 500)).execute()) existing.set(r.id, r);
    }
    const foreign = [...existing.values()].filter((r) => r.gateway_id !== gw.id && !(r.gateway_id === null && r.site_id === gw.site_id));
    if (foreign.length > 0) {
      throw new NotAuthorizedError(
        `inventory from gateway "${uploader.gatewayId}" lists resources of another gateway or site: ${foreign.slice(0, 5).map((r) => `${r.id} (gateway ${r.gateway_id ?? '-'}, site ${r.site_id})`).join(', ')}`,
        { code: 'inventory_foreign_resource' },
      );
    }

    let added = 0;
    let updated = 0;
    for (const d of devices) {
      const old = existing.get(d.resourceId);
      const identity = {
        echonet_class: `${d.echonetClass.toUpperCase()}${d.instance.toUpperCase()}`,
        maker_code: d.makerCode.toUpperCase(),
        product_code: d.productCode ?? old?.product_code ?? null,
        serial_number: d.serialNumber ?? old?.serial_number ?? null,
        firmware_version: d.firmwareVersion ?? old?.firmware_version ?? null,
        standard_version: d.standardVersion ?? old?.standard_version ?? null,
        installation_location: d.installationLocation ?? old?.installation_location ?? null,
        admission: d.admission,
        admission_revision: d.admissionRevision,
      };
      if (old) {
        updated++;
        const merged = { ...old, ...identity, class: d.class, gateway_id: gw.id };
        await trx
          .updateTable('portfolio_resource')
          .set({ ...identity, class: d.class, gateway_id: gw.id, present: toDbBool(true), search_text: resourceSearchText(merged), updated_at: now })
          .where('id', '=', d.resourceId)
          .execute();
      } else {
        added++;
        const meter = !deviceClass(d.class).controllable;
        const row = {
          id: d.resourceId, site_id: gw.site_id, gateway_id: gw.id, pool_id: meter ? null : gw.pool_id,
          class: d.class, name: deviceName(d),
          capacity_w: null, capacity_wh: null, max_charge_w: null, max_discharge_w: null,
          max_reduce_w: meter ? 0 : null, max_increase_w: meter ? 0 : null,
          constraints: toJsonText({}), ...identity, present: toDbBool(true), source: 'inventory',
          created_at: now, updated_at: now,
        };
        await trx.insertInto('portfolio_resource').values({ ...row, search_text: resourceSearchText(row) }).execute();
      }
    }
    let q = trx.updateTable('portfolio_resource').set({ present: toDbBool(false), updated_at: now }).where('gateway_id', '=', gw.id).where('present', '=', toDbBool(true));
    if (ids.length > 0) q = q.where('id', 'not in', ids);
    const gone = await q.executeTakeFirst();
    await trx
      .updateTable('portfolio_gateway')
      .set({ inventory_digest: digest, inventory_at: generatedAt, ven_id: gw.ven_id ?? doc.venId ?? null, updated_at: now })
      .where('id', '=', gw.id)
      .execute();
    return { gatewayId: gw.id, digest, unchanged: false, added, updated, missing: Number(gone.numUpdatedRows) };
  });
}
