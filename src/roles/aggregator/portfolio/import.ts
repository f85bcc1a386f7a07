/**
 * Portfolio import from CSV or JSON. All or nothing: every row is validated (fields, class
 * rules, references to pools, sites and gateways in the file or already in the database, TSO
 * area consistency) and every problem is reported with its line and field; only when there is
 * none is everything written, in one transaction. Import creates or updates; it never deletes.
 *
 * JSON (`erab-portfolio/1`): `{ "format": "erab-portfolio/1", "pools": [...], "sites": [...],
 * "gateways": [...], "resources": [...] }` with the fields of ./model.ts.
 *
 * CSV: one resource per row; the site, pool and gateway columns define or reference those
 * (rows naming the same site must agree). Columns (header names, any order):
 *   resource_id, site_id, class                         required
 *   name, gateway_id, pool_id, capacity_w, capacity_wh, max_charge_w, max_discharge_w,
 *   max_reduce_w, max_increase_w, backup_reserve_percent, comfort_min_c, comfort_max_c,
 *   max_reduction_minutes, maker_code, product_code, serial_number, firmware_version,
 *   standard_version, installation_location           resource
 *   site_name, tso_area, site_address                   site (name + area define it)
 *   pool_name, product, program                         pool (product + program define it, in tso_area)
 *   ven_id                                              gateway
 */
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { Clock } from '../../../core/clock.js';
import { InvalidInputError } from '../../../core/errors.js';
import { toDbBool, toJsonText } from '../../../store/schema.js';
import { parseCsv } from './csv.js';
import { locateTopLevelArrayElements } from './json-lines.js';
import {
  constraintsOf, defaultLimits, gatewaySchema, poolSchema, portfolioDocumentSchema, resourceSchema, siteSchema,
  type GatewayInput, type PoolInput, type ResourceInput, type SiteInput,
} from './model.js';
import { siteSubject, type PortfolioTables } from './tables.js';
import type { PersonalDataVault } from '../../../store/vault.js';
import { resourceSearchText } from './search-text.js';

/** One problem found in an import file. */
export interface ImportIssue {
  /** 1-based line in the file, when known. */
  line?: number;
  /** The field (CSV column, or JSON path such as `resources[3].capacityW`). */
  field: string;
  message: string;
}

/** The file was refused; `issues` lists every problem, and nothing was written. */
export class PortfolioImportError extends InvalidInputError {
  readonly issues: readonly ImportIssue[];
  constructor(readonly source: string, issues: readonly ImportIssue[]) {
    const shown = issues.slice(0, 50).map((i) => `  ${formatIssue(source, i)}`);
    if (issues.length > 50) shown.push(`  ... and ${issues.length - 50} more`);
    super(`${source}: ${issues.length} problem${issues.length === 1 ? '' : 's'}, nothing imported:\n${shown.join('\n')}`, { code: 'portfolio_import_refused' });
    this.issues = issues;
  }
}

export function formatIssue(source: string, i: ImportIssue): string {
  return `${source}${i.line !== undefined ? `:${i.line}` : ''}: ${i.field}: ${i.message}`;
}

export interface ImportCounts { created: number; updated: number }
export interface ImportSummary {
  pools: ImportCounts;
  sites: ImportCounts;
  gateways: ImportCounts;
  resources: ImportCounts;
}

export type ImportFormat = 'csv' | 'json';

/**
 * Rows per INSERT: fewer round trips and statement compilations. 500 rows × 29 columns stays
 * well under SQLite's 32 766 and PostgreSQL's 65 535 bound parameters.
 */
const BATCH = 500;

/** Largest import file accepted (characters). */
export const MAX_IMPORT_CHARS = 200 * 1024 * 1024;

interface Located<T> {
  value: T;
  line: number | undefined;
  /** Field name as the user wrote it (CSV column or JSON path). */
  field(path: string): string;
}

interface ImportPlan {
  pools: Located<PoolInput>[];
  sites: Located<SiteInput>[];
  gateways: Located<GatewayInput>[];
  resources: Located<ResourceInput>[];
}

// ---------------------------------------------------------------- JSON

function jsonPosition(text: string, err: unknown): number | undefined {
  const m = /position (\d+)/.exec(String((err as Error)?.message));
  if (!m) return undefined;
  const pos = Number(m[1]);
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function planFromJson(text: string, issues: ImportIssue[]): ImportPlan {
  const plan: ImportPlan = { pools: [], sites: [], gateways: [], resources: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const line = jsonPosition(text, err);
    issues.push({ ...(line !== undefined ? { line } : {}), field: '(file)', message: `not valid JSON: ${(err as Error).message}` });
    return plan;
  }
  const top = portfolioDocumentSchema.safeParse(doc);
  if (!top.success) {
    for (const is of top.error.issues) issues.push({ line: 1, field: is.path.join('.') || '(document)', message: is.message });
    return plan;
  }
  const lines = locateTopLevelArrayElements(text);
  const take = <T>(key: 'pools' | 'sites' | 'gateways' | 'resources', schema: z.ZodType<T>, into: Located<T>[]) => {
    (top.data[key] ?? []).forEach((raw, i) => {
      const at = `${key}[${i}]`;
      const line = lines.get(at);
      const field = (p: string) => (p ? `${at}.${p}` : at);
      const r = schema.safeParse(raw);
      if (!r.success) {
        for (const is of r.error.issues) issues.push({ ...(line !== undefined ? { line } : {}), field: field(is.path.join('.')), message: is.message });
        return;
      }
      into.push({ value: r.data, line, field });
    });
  };
  take('pools', poolSchema, plan.pools);
  take('sites', siteSchema, plan.sites);
  take('gateways', gatewaySchema, plan.gateways);
  take('resources', resourceSchema, plan.resources);
  return plan;
}

// ---------------------------------------------------------------- CSV

const RESOURCE_COLUMNS: Record<string, string> = {
  resource_id: 'id', site_id: 'siteId', gateway_id: 'gatewayId', pool_id: 'poolId', class: 'class', name: 'name',
  capacity_w: 'capacityW', capacity_wh: 'capacityWh', max_charge_w: 'maxChargeW', max_discharge_w: 'maxDischargeW',
  max_reduce_w: 'maxReduceW', max_increase_w: 'maxIncreaseW',
  backup_reserve_percent: 'constraints.backupReservePercent', comfort_min_c: 'constraints.comfortBand.minC',
  comfort_max_c: 'constraints.comfortBand.maxC', max_reduction_minutes: 'constraints.maxReductionMinutes',
  maker_code: 'makerCode', product_code: 'productCode', serial_number: 'serialNumber', firmware_version: 'firmwareVersion',
  standard_version: 'standardVersion', installation_location: 'installationLocation',
};
const SITE_COLUMNS: Record<string, string> = { site_id: 'id', site_name: 'name', tso_area: 'tsoArea', site_address: 'address' };
const POOL_COLUMNS: Record<string, string> = { pool_id: 'id', pool_name: 'name', tso_area: 'tsoArea', product: 'product', program: 'program' };
const GATEWAY_COLUMNS: Record<string, string> = { gateway_id: 'id', site_id: 'siteId', ven_id: 'venId' };
const NUMERIC = new Set([
  'capacity_w', 'capacity_wh', 'max_charge_w', 'max_discharge_w', 'max_reduce_w', 'max_increase_w',
  'backup_reserve_percent', 'comfort_min_c', 'comfort_max_c', 'max_reduction_minutes',
]);
const KNOWN_COLUMNS = new Set([...Object.keys(RESOURCE_COLUMNS), ...Object.keys(SITE_COLUMNS), ...Object.keys(POOL_COLUMNS), ...Object.keys(GATEWAY_COLUMNS)]);
const REQUIRED_COLUMNS = ['resource_id', 'site_id', 'class'];

/** Builds an object from CSV columns via a column → dotted-path map; empty cells are absent. */
function fromColumns(values: Record<string, string>, map: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [col, path] of Object.entries(map)) {
    const raw = values[col];
    if (raw === undefined) continue;
    const v = raw.trim();
    if (v === '') continue;
    // Plain decimals only: "1e3", "0x10", "5 kW" stay strings and fail validation by name.
    const value = NUMERIC.has(col) && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    const parts = path.split('.');
    let o = out;
    for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
    o[parts.at(-1)!] = value;
  }
  return out;
}

function columnOf(map: Record<string, string>, path: string): string {
  for (const [col, p] of Object.entries(map)) if (p === path) return col;
  // A refinement on a whole object (e.g. comfortBand) names its parent: point at its first column.
  for (const [col, p] of Object.entries(map)) if (p.startsWith(`${path}.`)) return col;
  return path || '(row)';
}

function planFromCsv(text: string, source: string, issues: ImportIssue[]): ImportPlan {
  const plan: ImportPlan = { pools: [], sites: [], gateways: [], resources: [] };
  let parsed;
  try {
    parsed = parseCsv(text, source);
  } catch (err) {
    const m = /^[^:]*:(\d+): (.*)$/s.exec((err as Error).message);
    issues.push(m ? { line: Number(m[1]), field: '(file)', message: m[2]! } : { field: '(file)', message: (err as Error).message });
    return plan;
  }
  for (const h of parsed.header) if (!KNOWN_COLUMNS.has(h)) issues.push({ line: 1, field: h, message: `unknown column (known: ${[...KNOWN_COLUMNS].join(', ')})` });
  for (const h of REQUIRED_COLUMNS) if (!parsed.header.includes(h)) issues.push({ line: 1, field: h, message: 'required column is missing' });
  if (issues.length > 0) return plan;

  const check = <T>(map: Record<string, string>, schema: z.ZodType<T>, raw: Record<string, unknown>, line: number, into: Located<T>[]) => {
    const field = (p: string) => columnOf(map, p);
    const r = schema.safeParse(raw);
    if (!r.success) {
      for (const is of r.error.issues) issues.push({ line, field: field(is.path.join('.')), message: is.message });
      return;
    }
    into.push({ value: r.data, line, field });
  };
  for (const rec of parsed.records) {
    const v = rec.values;
    const has = (c: string) => (v[c] ?? '').trim() !== '';
    check(RESOURCE_COLUMNS, resourceSchema, fromColumns(v, RESOURCE_COLUMNS), rec.line, plan.resources);
    if (has('site_name') || has('tso_area') || has('site_address')) check(SITE_COLUMNS, siteSchema, fromColumns(v, SITE_COLUMNS), rec.line, plan.sites);
    if (has('pool_id') && (has('product') || has('program') || has('pool_name'))) check(POOL_COLUMNS, poolSchema, fromColumns(v, POOL_COLUMNS), rec.line, plan.pools);
    if (has('gateway_id')) check(GATEWAY_COLUMNS, gatewaySchema, fromColumns(v, GATEWAY_COLUMNS), rec.line, plan.gateways);
  }
  return plan;
}

// ---------------------------------------------------------------- merge and cross-check

/**
 * Same id defined twice. JSON: an error. CSV: rows repeat their site, pool and gateway
 * columns, so definitions merge — a row may leave a column empty — and only two different
 * values for the same field are an error, reported on the later line.
 */
function dedupe<T extends { id: string }>(items: Located<T>[], what: string, issues: ImportIssue[], merge: boolean): Map<string, Located<T>> {
  const out = new Map<string, Located<T>>();
  for (const it of items) {
    const prev = out.get(it.value.id);
    if (!prev) {
      out.set(it.value.id, it);
      continue;
    }
    const at = prev.line !== undefined ? ` on line ${prev.line}` : '';
    if (!merge) {
      issues.push({ ...(it.line !== undefined ? { line: it.line } : {}), field: it.field('id'), message: `${what} "${it.value.id}" appears twice (first${at})` });
      continue;
    }
    const a = prev.value as Record<string, unknown>;
    const b = it.value as Record<string, unknown>;
    const diff = Object.keys(b).filter((k) => a[k] !== undefined && b[k] !== undefined && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    if (diff.length > 0) {
      issues.push({
        ...(it.line !== undefined ? { line: it.line } : {}),
        field: it.field(diff[0]!),
        message: `${what} "${it.value.id}" is defined differently than${at} (${diff.map((k) => `${k}: ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`).join(', ')})`,
      });
      continue;
    }
    out.set(it.value.id, { ...prev, value: { ...b, ...a } as T });
  }
  return out;
}

async function loadByIds<T>(ids: readonly string[], load: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += 500) out.push(...(await load(unique.slice(i, i + 500))));
  return out;
}

type Db = Kysely<PortfolioTables>;

/**
 * Validates and applies an import in one transaction.
 * @throws PortfolioImportError listing every problem; nothing is written then.
 */
export async function importPortfolio(
  db: Db,
  input: { text: string; format: ImportFormat; source: string },
  clock: Clock,
  /** Seals the sites' personal fields (name, address) when given. */
  vault?: PersonalDataVault,
): Promise<ImportSummary> {
  const { text, format, source } = input;
  if (text.length > MAX_IMPORT_CHARS) throw new PortfolioImportError(source, [{ field: '(file)', message: `larger than ${MAX_IMPORT_CHARS} characters` }]);
  const issues: ImportIssue[] = [];
  const plan = format === 'json' ? planFromJson(text, issues) : planFromCsv(text, source, issues);
  const fieldErrors = issues.length;
  const csv = format === 'csv';
  const pools = dedupe(plan.pools, 'pool', issues, csv);
  const sites = dedupe(plan.sites, 'site', issues, csv);
  const gateways = dedupe(plan.gateways, 'gateway', issues, csv);
  const resources = dedupe(plan.resources, 'resource', issues, false);
  // Rows with field errors are left out of the plan, so checking references to them would
  // only add noise: references are checked once every row is well-formed.
  if (fieldErrors > 0) throw new PortfolioImportError(source, sortIssues(issues));

  const now = clock.now();
  return db.transaction().execute(async (trx) => {
    // What the file refers to but does not define must already be in the database.
    const poolIds = [...[...sites.values()].map((s) => s.value.poolId), ...[...resources.values()].map((r) => r.value.poolId)].filter((x): x is string => !!x);
    const siteIds = [...[...gateways.values()].map((g) => g.value.siteId), ...[...resources.values()].map((r) => r.value.siteId)];
    const gatewayIds = [...resources.values()].map((r) => r.value.gatewayId).filter((x): x is string => !!x);
    const dbPools = new Map((await loadByIds([...poolIds, ...pools.keys()], (c) => trx.selectFrom('portfolio_pool').selectAll().where('id', 'in', c).execute())).map((p) => [p.id, p]));
    const dbSites = new Map((await loadByIds([...siteIds, ...sites.keys()], (c) => trx.selectFrom('portfolio_site').selectAll().where('id', 'in', c).execute())).map((s) => [s.id, s]));
    // A resource without a pool joins its site's pool, which may only be in the database.
    const sitePools = [...dbSites.values()].map((s) => s.pool_id).filter((x): x is string => !!x && !dbPools.has(x));
    for (const p of await loadByIds(sitePools, (c) => trx.selectFrom('portfolio_pool').selectAll().where('id', 'in', c).execute())) dbPools.set(p.id, p);
    const dbGateways = new Map((await loadByIds([...gatewayIds, ...gateways.keys()], (c) => trx.selectFrom('portfolio_gateway').selectAll().where('id', 'in', c).execute())).map((g) => [g.id, g]));
    const venIds = [...gateways.values()].map((g) => g.value.venId).filter((x): x is string => !!x);
    const dbVen = await loadByIds(venIds, (c) => trx.selectFrom('portfolio_gateway').select(['id', 'ven_id']).where('ven_id', 'in', c).execute());
    const dbResources = new Map((await loadByIds([...resources.keys()], (c) => trx.selectFrom('portfolio_resource').selectAll().where('id', 'in', c).execute())).map((r) => [r.id, r]));

    const areaOfPool = (id: string) => pools.get(id)?.value.tsoArea ?? dbPools.get(id)?.tso_area;
    const siteOf = (id: string) => {
      const f = sites.get(id);
      if (f) return { tsoArea: f.value.tsoArea, poolId: f.value.poolId ?? null };
      const d = dbSites.get(id);
      return d ? { tsoArea: d.tso_area, poolId: d.pool_id } : undefined;
    };
    const gatewaySite = (id: string) => gateways.get(id)?.value.siteId ?? dbGateways.get(id)?.site_id;
    const at = (l: Located<unknown>, path: string, message: string) => issues.push({ ...(l.line !== undefined ? { line: l.line } : {}), field: l.field(path), message });

    for (const s of sites.values()) {
      const p = s.value.poolId;
      if (p === undefined) continue;
      const area = areaOfPool(p);
      if (area === undefined) at(s, 'poolId', `pool "${p}" does not exist (define it in the file or import it first)`);
      else if (area !== s.value.tsoArea) at(s, 'poolId', `pool "${p}" is in TSO area ${area}, the site is in ${s.value.tsoArea}`);
    }
    const venOwner = new Map<string, string>();
    for (const r of dbVen) if (r.ven_id) venOwner.set(r.ven_id, r.id);
    for (const g of gateways.values()) {
      if (!siteOf(g.value.siteId)) at(g, 'siteId', `site "${g.value.siteId}" does not exist`);
      const ven = g.value.venId;
      if (ven) {
        const owner = venOwner.get(ven);
        if (owner !== undefined && owner !== g.value.id) at(g, 'venId', `venID "${ven}" already belongs to gateway "${owner}"`);
        else venOwner.set(ven, g.value.id);
      }
    }
    for (const r of resources.values()) {
      const site = siteOf(r.value.siteId);
      if (!site) {
        at(r, 'siteId', `site "${r.value.siteId}" does not exist (give site_name and tso_area, or import the site first)`);
        continue;
      }
      const g = r.value.gatewayId;
      if (g !== undefined) {
        const gs = gatewaySite(g);
        if (gs === undefined) at(r, 'gatewayId', `gateway "${g}" does not exist`);
        else if (gs !== r.value.siteId) at(r, 'gatewayId', `gateway "${g}" is at site "${gs}", not "${r.value.siteId}"`);
      }
      const p = r.value.poolId ?? site.poolId;
      if (p) {
        const area = areaOfPool(p);
        if (area === undefined) at(r, 'poolId', `pool "${p}" does not exist (define it in the file or import it first)`);
        else if (area !== site.tsoArea) at(r, 'poolId', `pool "${p}" is in TSO area ${area}, the site "${r.value.siteId}" is in ${site.tsoArea}`);
      }
    }
    if (issues.length > 0) throw new PortfolioImportError(source, sortIssues(issues));

    const summary: ImportSummary = {
      pools: { created: 0, updated: 0 }, sites: { created: 0, updated: 0 },
      gateways: { created: 0, updated: 0 }, resources: { created: 0, updated: 0 },
    };
    const count = (c: ImportCounts, existed: boolean) => { if (existed) c.updated++; else c.created++; };

    for (const batch of chunked([...pools.values()], BATCH)) {
      await trx.insertInto('portfolio_pool').values(batch.map(({ value: p }) => {
        count(summary.pools, dbPools.has(p.id));
        return { id: p.id, name: p.name ?? p.id, tso_area: p.tsoArea, product: p.product, program: p.program, created_at: now, updated_at: now };
      })).onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({
        name: eb.ref('excluded.name'), tso_area: eb.ref('excluded.tso_area'), product: eb.ref('excluded.product'),
        program: eb.ref('excluded.program'), updated_at: eb.ref('excluded.updated_at'),
      }))).execute();
    }
    for (const batch of chunked([...sites.values()], BATCH)) {
      const sealed = vault ? await vault.sealMany(trx, batch.map(({ value: s }) => ({ subject: siteSubject(s.id), fields: { name: s.name, address: s.address ?? null } }))) : undefined;
      await trx.insertInto('portfolio_site').values(batch.map(({ value: s }, i) => {
        count(summary.sites, dbSites.has(s.id));
        // A CSV row cannot express a site's default pool: keep the one already stored.
        const poolId = s.poolId ?? (csv ? dbSites.get(s.id)?.pool_id ?? null : null);
        const personal = sealed ? sealed[i]! : { name: s.name, address: s.address ?? null };
        return { id: s.id, name: personal.name!, tso_area: s.tsoArea, address: personal.address ?? null, // Sealed names are searched by opening their batches (query.ts): no per-site keyed hash, which
        // cost as much as the sealing itself (docs/privacy.md, Cost); rows sealed before keep theirs.
        name_index: null, pool_id: poolId, created_at: now, updated_at: now };
      })).onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({
        name: eb.ref('excluded.name'), tso_area: eb.ref('excluded.tso_area'), address: eb.ref('excluded.address'), name_index: eb.ref('excluded.name_index'),
        pool_id: eb.ref('excluded.pool_id'), updated_at: eb.ref('excluded.updated_at'),
      }))).execute();
    }
    for (const batch of chunked([...gateways.values()], BATCH)) {
      await trx.insertInto('portfolio_gateway').values(batch.map(({ value: g }) => {
        count(summary.gateways, dbGateways.has(g.id));
        const old = dbGateways.get(g.id);
        return {
          id: g.id, site_id: g.siteId, ven_id: g.venId ?? old?.ven_id ?? null,
          inventory_digest: old?.inventory_digest ?? null, inventory_at: old?.inventory_at ?? null, created_at: now, updated_at: now,
        };
      })).onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({
        site_id: eb.ref('excluded.site_id'), ven_id: eb.ref('excluded.ven_id'), updated_at: eb.ref('excluded.updated_at'),
      }))).execute();
    }
    for (const batch of chunked([...resources.values()], BATCH)) {
      await trx.insertInto('portfolio_resource').values(batch.map(({ value: r }) => {
        const old = dbResources.get(r.id);
        count(summary.resources, old !== undefined);
        const limits = defaultLimits(r);
        const row = {
          id: r.id, site_id: r.siteId, gateway_id: r.gatewayId ?? null,
          pool_id: r.poolId ?? siteOf(r.siteId)?.poolId ?? null,
          class: r.class, name: r.name ?? old?.name ?? r.id,
          capacity_w: r.capacityW ?? null, capacity_wh: r.capacityWh ?? null,
          max_charge_w: r.maxChargeW ?? null, max_discharge_w: r.maxDischargeW ?? null,
          max_reduce_w: limits.maxReduceW, max_increase_w: limits.maxIncreaseW,
          constraints: toJsonText(constraintsOf(r)),
          // Identity data is normally discovered by the gateway: an import fills it, never blanks it.
          echonet_class: old?.echonet_class ?? null,
          maker_code: r.makerCode?.toUpperCase() ?? old?.maker_code ?? null,
          product_code: r.productCode ?? old?.product_code ?? null,
          serial_number: r.serialNumber ?? old?.serial_number ?? null,
          firmware_version: r.firmwareVersion ?? old?.firmware_version ?? null,
          standard_version: r.standardVersion ?? old?.standard_version ?? null,
          installation_location: r.installationLocation ?? old?.installation_location ?? null,
          admission: old?.admission ?? null,
          admission_revision: old?.admission_revision ?? null,
          present: old?.present ?? toDbBool(true),
          source: old?.source ?? 'import',
          created_at: now, updated_at: now,
        };
        return { ...row, search_text: resourceSearchText(row) };
      })).onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({
        site_id: eb.ref('excluded.site_id'), gateway_id: eb.ref('excluded.gateway_id'), pool_id: eb.ref('excluded.pool_id'),
        class: eb.ref('excluded.class'), name: eb.ref('excluded.name'),
        capacity_w: eb.ref('excluded.capacity_w'), capacity_wh: eb.ref('excluded.capacity_wh'),
        max_charge_w: eb.ref('excluded.max_charge_w'), max_discharge_w: eb.ref('excluded.max_discharge_w'),
        max_reduce_w: eb.ref('excluded.max_reduce_w'), max_increase_w: eb.ref('excluded.max_increase_w'),
        constraints: eb.ref('excluded.constraints'), maker_code: eb.ref('excluded.maker_code'),
        product_code: eb.ref('excluded.product_code'), serial_number: eb.ref('excluded.serial_number'),
        firmware_version: eb.ref('excluded.firmware_version'), standard_version: eb.ref('excluded.standard_version'),
        installation_location: eb.ref('excluded.installation_location'), search_text: eb.ref('excluded.search_text'),
        updated_at: eb.ref('excluded.updated_at'),
      }))).execute();
    }
    return summary;
  });
}

/** Issues in file order (line, then as found). */
function sortIssues(issues: ImportIssue[]): ImportIssue[] {
  return issues.map((i, k) => ({ i, k })).sort((a, b) => (a.i.line ?? 0) - (b.i.line ?? 0) || a.k - b.k).map((x) => x.i);
}

function chunked<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}
