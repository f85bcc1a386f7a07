/**
 * Listing and searching the portfolio, with keyset pagination (stable and fast at 100 000+
 * resources: each page starts after the last id of the previous one, no OFFSET scans).
 */
import { sql, type Kysely } from 'kysely';
import { InvalidInputError } from '../../../core/errors.js';
import type { EpochMillis, Percent, WattHours, Watts } from '../../../core/units.js';
import { fromDbBool, fromJsonText, toEpochMillis } from '../../../store/schema.js';
import { constraintsSchema } from './model.js';
import { containsPattern } from './search-text.js';
import { SITE_NAME_INDEX, siteSubject, type PortfolioTables } from './tables.js';
import { isSealed, type PersonalDataVault } from '../../../store/vault.js';
import { RESOURCE_CLASSES, type Gateway, type OwnerConstraints, type Pool, type Resource, type ResourceClass, type ResourceSource, type Site, type TsoArea, type MarketProduct } from './types.js';

type Db = Kysely<PortfolioTables>;
type ResourceRow = PortfolioTables['portfolio_resource'];

export interface ResourceQuery {
  poolId?: string;
  siteId?: string;
  gatewayId?: string;
  class?: ResourceClass;
  /** Case-insensitive substring of id, name, class, site, gateway, maker, product, serial, firmware, location. */
  search?: string;
  /** Only resources the latest inventory still lists (default: all). */
  presentOnly?: boolean;
  /** Page size, 1..1000 (default 100). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
  /** Number of matches over all pages. */
  total: number;
}

const nullableNum = <T extends number>(v: unknown): T | null => (v === null || v === undefined ? null : (Number(v) as T));

export function resourceFromRow(r: ResourceRow): Resource {
  return {
    id: r.id,
    siteId: r.site_id,
    gatewayId: r.gateway_id,
    poolId: r.pool_id,
    class: r.class as ResourceClass,
    name: r.name,
    capacityW: nullableNum<Watts>(r.capacity_w),
    capacityWh: nullableNum<WattHours>(r.capacity_wh),
    maxChargeW: nullableNum<Watts>(r.max_charge_w),
    maxDischargeW: nullableNum<Watts>(r.max_discharge_w),
    maxReduceW: nullableNum<Watts>(r.max_reduce_w),
    maxIncreaseW: nullableNum<Watts>(r.max_increase_w),
    constraints: fromJsonText(r.constraints, constraintsSchema, `portfolio_resource ${r.id}.constraints`) as OwnerConstraints & { backupReservePercent?: Percent },
    echonetClass: r.echonet_class,
    makerCode: r.maker_code,
    productCode: r.product_code,
    serialNumber: r.serial_number,
    firmwareVersion: r.firmware_version,
    standardVersion: r.standard_version,
    installationLocation: r.installation_location,
    admission: r.admission,
    admissionRevision: r.admission_revision === null ? null : Number(r.admission_revision),
    present: fromDbBool(r.present),
    source: r.source as ResourceSource,
    createdAt: toEpochMillis(r.created_at),
    updatedAt: toEpochMillis(r.updated_at),
  };
}

/**
 * Lists resources matching every given filter, ordered by id.
 * @example const page = await listResources(db, { poolId: 'tokyo-t2', class: 'battery', limit: 50 });
 */
export async function listResources(db: Db, q: ResourceQuery = {}): Promise<Page<Resource>> {
  const limit = q.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new InvalidInputError(`limit must be 1..1000, got ${limit}`);
  if (q.class !== undefined && !RESOURCE_CLASSES.includes(q.class)) {
    throw new InvalidInputError(`class "${q.class}" is not one of ${RESOURCE_CLASSES.join(', ')}`);
  }
  if (q.search !== undefined && q.search.length > 200) throw new InvalidInputError('search text must be at most 200 characters');
  let base = db.selectFrom('portfolio_resource');
  if (q.poolId !== undefined) base = base.where('pool_id', '=', q.poolId);
  if (q.siteId !== undefined) base = base.where('site_id', '=', q.siteId);
  if (q.gatewayId !== undefined) base = base.where('gateway_id', '=', q.gatewayId);
  if (q.class !== undefined) base = base.where('class', '=', q.class);
  if (q.presentOnly) base = base.where('present', '=', 1);
  if (q.search !== undefined && q.search.trim() !== '') {
    base = base.where(sql<boolean>`search_text like ${containsPattern(q.search.trim())} escape '\\'`);
  }
  const totalRow = await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  let pageQ = base.selectAll().orderBy('id').limit(limit + 1);
  if (q.cursor !== undefined) pageQ = pageQ.where('id', '>', decodeCursor(q.cursor));
  const rows = await pageQ.execute();
  const items = rows.slice(0, limit).map(resourceFromRow);
  const last = items.at(-1);
  return {
    items,
    total: Number(totalRow.n),
    ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.id) } : {}),
  };
}

/**
 * Every resource of a pool (for allocation: not paginated), ordered by id, read in chunks so
 * 100 000 resources never need one giant statement.
 */
export async function poolResources(db: Db, poolId: string, options: { presentOnly?: boolean } = {}): Promise<Resource[]> {
  const out: Resource[] = [];
  let after: string | undefined;
  for (;;) {
    let q = db.selectFrom('portfolio_resource').selectAll().where('pool_id', '=', poolId).orderBy('id').limit(5000);
    if (options.presentOnly ?? true) q = q.where('present', '=', 1);
    if (after !== undefined) q = q.where('id', '>', after);
    const rows = await q.execute();
    for (const r of rows) out.push(resourceFromRow(r));
    if (rows.length < 5000) return out;
    after = rows.at(-1)!.id;
  }
}

/** One resource by id, or undefined. */
export async function getResource(db: Db, id: string): Promise<Resource | undefined> {
  const r = await db.selectFrom('portfolio_resource').selectAll().where('id', '=', id).executeTakeFirst();
  return r ? resourceFromRow(r) : undefined;
}

// Cursors are opaque to callers (base64url of the last id) so the scheme can change.
function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}
function decodeCursor(c: string): string {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(c)) throw new InvalidInputError('cursor is not one this server gave out');
  return Buffer.from(c, 'base64url').toString('utf8');
}

/** A pool with what it can offer: sums over its present resources. */
export interface PoolSummary extends Pool {
  resources: number;
  /** Σ maxReduceW of present resources (W). */
  reduceW: Watts;
  /** Σ maxIncreaseW of present resources (W). */
  increaseW: Watts;
}

/** Every pool with its resource count and summed limits, ordered by id. */
export async function listPools(db: Db, filter: { tsoArea?: TsoArea; product?: MarketProduct } = {}): Promise<PoolSummary[]> {
  let q = db
    .selectFrom('portfolio_pool as p')
    .leftJoin('portfolio_resource as r', (j) => j.onRef('r.pool_id', '=', 'p.id').on('r.present', '=', 1))
    .select((eb) => [
      'p.id', 'p.name', 'p.tso_area', 'p.product', 'p.program', 'p.created_at', 'p.updated_at',
      eb.fn.count('r.id').as('n'),
      eb.fn.coalesce(eb.fn.sum('r.max_reduce_w'), sql<number>`0`).as('reduce_w'),
      eb.fn.coalesce(eb.fn.sum('r.max_increase_w'), sql<number>`0`).as('increase_w'),
    ])
    .groupBy(['p.id', 'p.name', 'p.tso_area', 'p.product', 'p.program', 'p.created_at', 'p.updated_at'])
    .orderBy('p.id');
  if (filter.tsoArea) q = q.where('p.tso_area', '=', filter.tsoArea);
  if (filter.product) q = q.where('p.product', '=', filter.product);
  const rows = await q.execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    tsoArea: r.tso_area as TsoArea,
    product: r.product as MarketProduct,
    program: r.program,
    createdAt: toEpochMillis(r.created_at),
    updatedAt: toEpochMillis(r.updated_at),
    resources: Number(r.n),
    reduceW: Number(r.reduce_w) as Watts,
    increaseW: Number(r.increase_w) as Watts,
  }));
}

/** Sites ordered by id, optionally of one pool or matching a text. */
export async function listSites(db: Db, q: { poolId?: string; search?: string; limit?: number; cursor?: string } = {}, vault?: PersonalDataVault): Promise<Page<Site>> {
  const limit = q.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) throw new InvalidInputError(`limit must be 1..1000, got ${limit}`);
  const search = q.search?.trim() ? q.search : undefined;
  if (search !== undefined && vault) return searchSealedSites(db, q.poolId, search, limit, q.cursor, vault);
  let base = sitesOf(db, q.poolId);
  if (search !== undefined) {
    const p = containsPattern(search.trim());
    base = base.where(sql<boolean>`(lower(id) like ${p} escape '\\' or lower(name) like ${p} escape '\\')`);
  }
  const totalRow = await base.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  let pageQ = base.selectAll().orderBy('id').limit(limit + 1);
  if (q.cursor !== undefined) pageQ = pageQ.where('id', '>', decodeCursor(q.cursor));
  return sitePage(db, await pageQ.execute(), limit, Number(totalRow.n), vault);
}

const sitesOf = (db: Db, poolId: string | undefined) => (poolId === undefined ? db.selectFrom('portfolio_site') : db.selectFrom('portfolio_site').where('pool_id', '=', poolId));
type SiteRow = PortfolioTables['portfolio_site'];

async function sitePage(db: Db, rows: readonly SiteRow[], limit: number, total: number, vault?: PersonalDataVault): Promise<Page<Site>> {
  const page = rows.slice(0, limit);
  const personal = await openSites(db, page, vault);
  const items: Site[] = page.map((s, i) => ({
    id: s.id, name: personal[i]!.name ?? '', tsoArea: s.tso_area as TsoArea, address: personal[i]!.address ?? null, poolId: s.pool_id,
    createdAt: toEpochMillis(s.created_at), updatedAt: toEpochMillis(s.updated_at),
  }));
  const last = items.at(-1);
  return { items, total, ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.id) } : {}) };
}

/**
 * Search with the key at hand: names are opened and matched by substring (case-insensitive),
 * like names in clear. Names sealed in batches carry no per-site keyed hash (on an import it
 * cost as much as the sealing, docs/privacy.md, Cost); opening a batch is one AES-GCM (a
 * 100 000-site portfolio is 200 of them), so a search reads every site's id and name reference,
 * opens them and fetches only the page asked for. Rows sealed in format 1 match exactly through
 * their keyed hash (`name_index`), as before.
 */
async function searchSealedSites(db: Db, poolId: string | undefined, search: string, limit: number, cursor: string | undefined, vault: PersonalDataVault): Promise<Page<Site>> {
  const text = search.trim().normalize('NFC').toLowerCase();
  const all = await sitesOf(db, poolId).select(['id', 'name', 'name_index']).orderBy('id').execute();
  // The keyed hash only where format-1 rows carry one (computing it may create its key).
  const index = all.some((r) => r.name_index !== null) ? await vault.blindIndex(db, SITE_NAME_INDEX, search) : null;
  const inBatch = (r: { name: string; name_index: string | null }) => isSealed(r.name) && r.name_index === null;
  const names = await vault.openMany(db, all.map((r) => ({ subject: siteSubject(r.id), fields: { name: inBatch(r) ? r.name : null } })));
  const matching = all.filter((r, i) => r.id.toLowerCase().includes(text) || (r.name_index !== null && r.name_index === index)
    || (!isSealed(r.name) && r.name.toLowerCase().includes(text)) || (names[i]!.name ?? '').normalize('NFC').toLowerCase().includes(text)).map((r) => r.id);
  const from = cursor === undefined ? undefined : decodeCursor(cursor);
  const ids = (from === undefined ? matching : matching.filter((id) => id > from)).slice(0, limit + 1);
  const rows = ids.length === 0 ? [] : await db.selectFrom('portfolio_site').selectAll().where('id', 'in', ids).orderBy('id').execute();
  return sitePage(db, rows, limit, matching.length, vault);
}

/**
 * The personal fields of sites, opened (sealed ones need the vault; without it they are refused,
 * never shown as ciphertext). A shredded site's fields read as null.
 */
export async function openSites(db: Db, rows: readonly { id: string; name: string | null; address: string | null }[], vault?: PersonalDataVault): Promise<{ name: string | null; address: string | null }[]> {
  const items = rows.map((r) => ({ subject: siteSubject(r.id), fields: { name: r.name, address: r.address } }));
  if (vault) return (await vault.openMany(db, items)).map((f) => ({ name: f.name ?? null, address: f.address ?? null }));
  if (rows.some((r) => isSealed(r.name) || isSealed(r.address))) {
    throw new InvalidInputError('the portfolio holds encrypted personal data: give the key-encryption key (--kek-file or ERAB_PRIVACY_KEK_FILE)');
  }
  return rows.map((r) => ({ name: r.name, address: r.address }));
}

/** The gateways of a site (or all), ordered by id. */
export async function listGateways(db: Db, q: { siteId?: string } = {}): Promise<Gateway[]> {
  let base = db.selectFrom('portfolio_gateway').selectAll().orderBy('id');
  if (q.siteId !== undefined) base = base.where('site_id', '=', q.siteId);
  return (await base.execute()).map((g) => ({
    id: g.id, siteId: g.site_id, venId: g.ven_id, inventoryDigest: g.inventory_digest,
    inventoryAt: g.inventory_at === null ? null : toEpochMillis(g.inventory_at),
    createdAt: toEpochMillis(g.created_at) as EpochMillis, updatedAt: toEpochMillis(g.updated_at),
  }));
}

