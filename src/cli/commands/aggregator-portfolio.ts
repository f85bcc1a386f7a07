/**
 * `erab aggregator portfolio import|list|pools`: manage the aggregator's portfolio in its store.
 * The store is `--db <url>` (SQLite file or postgres:// URL), by default $ERAB_AGGREGATOR_DB or
 * ./aggregator.db. The CLI opens it with the portfolio's migrations only and tolerates the
 * other modules' migrations already applied by the running aggregator.
 */
import { Option, type Command } from 'commander';
import { readFile, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { extname } from 'node:path';
import { InvalidInputError, becauseOf, describeError, explain } from '../../core/errors.js';
import { openStore, type Store } from '../../store/store.js';
import { Portfolio } from '../../roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations } from '../../roles/aggregator/portfolio/tables.js';
import { MAX_IMPORT_CHARS, PortfolioImportError, formatIssue, type ImportFormat } from '../../roles/aggregator/portfolio/import.js';
import { exportPortfolioCsv } from '../../roles/aggregator/portfolio/export.js';
import type { PortfolioTables } from '../../roles/aggregator/portfolio/tables.js';
import type { Kysely } from 'kysely';
import { MARKET_PRODUCTS, RESOURCE_CLASSES, TSO_AREAS, type Resource, type ResourceClass } from '../../roles/aggregator/portfolio/types.js';
import { UsageError } from '../usage.js';
import { AuditLog } from '../../security/audit/log.js';
import { readStoredVerifierKey } from '../../security/audit/store.js';
import type { AuditSink } from '../../security/audit/types.js';
import type { PersonalDataVault } from '../../store/vault.js';
import { kekFileOption, kekOptions, vaultFrom, type KekOptions } from './privacy.js';
import { authorizeAccess, checkPurpose, loadAccessPolicy, type AccessPermission } from '../../security/privacy/access.js';
import { sql } from 'kysely';

const DEFAULT_DB = (): string => process.env.ERAB_AGGREGATOR_DB ?? 'aggregator.db';

async function withPortfolio<T>(db: string, fn: (p: Portfolio, store: Store, vault: PersonalDataVault | undefined) => Promise<T>, audit?: AuditSink, kek: KekOptions = {}): Promise<T> {
  const vault = vaultFrom(kek);
  const store = await openStore({ url: db, migrations: portfolioMigrations, ignoreUnknownMigrations: true });
  try {
    return await fn(new Portfolio(store, { ...(audit ? { audit } : {}), ...(vault ? { vault } : {}) }), store, vault);
  } finally {
    await store.close();
  }
}

/** The operator an import is attributed to (自家用GL 8-1-1): --operator, else the OS account. */
export function operator(given?: string): { kind: 'operator'; id: string } {
  if (given !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(given)) throw new UsageError(explain('cli.portfolio.badOperator', { id: given }));
    return { kind: 'operator', id: given };
  }
  let id = 'unknown';
  try {
    id = userInfo().username;
  } catch {
    /* no passwd entry (containers) */
  }
  return { kind: 'operator', id };
}

/** Opens the role's existing audit log (its origin is read from the stored verifier key). */
export function openAudit(dir: string): AuditLog {
  let origin: string;
  try {
    origin = readStoredVerifierKey(dir).name;
  } catch (err) {
    throw new InvalidInputError(explain('cli.portfolio.noAuditLog', { dir, ...becauseOf(err) }));
  }
  return AuditLog.open({ dir, origin });
}

/** Who reads personal data and why (src/security/privacy/access.ts). */
interface AccessOpts {
  operator?: string;
  purpose?: string;
  accessPolicy?: string;
  auditDir?: string;
}

function accessOptions(cmd: Command): Command {
  return cmd
    .option('--operator <id>', 'operator reading the data (default: the OS account); must be permitted by the access policy')
    .option('--purpose <text>', 'why the data is read (required; recorded in the audit log)')
    .option('--access-policy <file>', 'who may read and export personal data (default $ERAB_PRIVACY_ACCESS_POLICY)')
    .option('--audit-dir <dir>', 'audit log the access is recorded in (default $ERAB_AGGREGATOR_AUDIT_DIR)');
}

/**
 * Runs a read of personal data under the access policy: refused (and audited) for an operator
 * without the permission; recorded with the subjects it covered once done.
 */
async function withPersonalDataAccess<T>(
  opts: AccessOpts, permission: AccessPermission, via: string, filter: Record<string, string | undefined>,
  read: () => Promise<{ result: T; subjects: string[]; scope?: string }>,
): Promise<T> {
  const purpose = checkPurpose(opts.purpose);
  const actor = operator(opts.operator);
  const auditDir = opts.auditDir ?? (process.env.ERAB_AGGREGATOR_AUDIT_DIR || undefined);
  if (auditDir === undefined) throw new UsageError(explain('cli.portfolio.auditRequired'));
  const policyFile = opts.accessPolicy ?? (process.env.ERAB_PRIVACY_ACCESS_POLICY || undefined);
  const policy = policyFile !== undefined ? loadAccessPolicy(policyFile) : undefined;
  const given = Object.fromEntries(Object.entries(filter).filter((e): e is [string, string] => e[1] !== undefined));
  const audit = openAudit(auditDir);
  try {
    const record = authorizeAccess(policy, { operator: actor.id, permission, purpose, via, ...(Object.keys(given).length ? { filter: given } : {}) }, audit);
    try {
      const r = await read();
      record({ subjects: r.subjects, ...(r.scope ? { scope: r.scope } : {}) });
      return r.result;
    } catch (err) {
      record({ error: describeError(err) });
      throw err;
    }
  } finally {
    audit.close();
  }
}

const fmtW = (v: number | null): string => (v === null ? '-' : String(Math.round(v)));

function table(resources: Resource[]): string {
  const head = ['ID', 'CLASS', 'SITE', 'POOL', 'CAP_W', 'CAP_WH', 'REDUCE_W', 'INCREASE_W', 'PRESENT', 'NAME'];
  const rows = resources.map((r) => [
    r.id, r.class, r.siteId, r.poolId ?? '-', fmtW(r.capacityW), fmtW(r.capacityWh), fmtW(r.maxReduceW), fmtW(r.maxIncreaseW),
    r.present ? 'yes' : 'no', r.name,
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]!].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(width[i]! - [...c].length))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

export function registerPortfolio(aggregator: Command): void {
  const portfolio = aggregator.command('portfolio').description('Sites, gateways, resources and pools of the aggregator');

  kekOptions(portfolio
    .command('import')
    .description('Import pools, sites, gateways and resources from a CSV or JSON file (all or nothing)')
    .argument('<file>', 'CSV (one resource per row) or JSON (erab-portfolio/1) file')
    .option('--db <url>', 'aggregator store: SQLite file or postgres:// URL (default $ERAB_AGGREGATOR_DB or ./aggregator.db)')
    .addOption(new Option('--format <format>', 'file format (default: from the extension)').choices(['csv', 'json']))
    .option('--audit-dir <dir>', "record the import in this audit log (default $ERAB_AGGREGATOR_AUDIT_DIR; none if unset)")
    .option('--operator <id>', 'operator the import is attributed to (default: the OS account)'))
    .action(async (file: string, opts: KekOptions & { db?: string; format?: ImportFormat; auditDir?: string; operator?: string }) => {
      const actor = operator(opts.operator);
      const format = opts.format ?? (extname(file).toLowerCase() === '.json' ? 'json' : extname(file).toLowerCase() === '.csv' ? 'csv' : undefined);
      if (!format) throw new UsageError(explain('cli.portfolio.unknownFormat', { file }));
      let text: string;
      try {
        const st = await stat(file);
        if (!st.isFile()) throw new InvalidInputError(explain('file.notRegular'));
        if (st.size > MAX_IMPORT_CHARS) throw new InvalidInputError(explain('file.tooLarge', { max: MAX_IMPORT_CHARS }));
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new InvalidInputError(explain('cli.cannotRead', { file, ...becauseOf(err) }));
      }
      const auditDir = opts.auditDir ?? (process.env.ERAB_AGGREGATOR_AUDIT_DIR || undefined);
      const audit = auditDir !== undefined ? openAudit(auditDir) : undefined;
      try {
        await withPortfolio(opts.db ?? DEFAULT_DB(), async (p, store) => {
          try {
            const s = await p.importText(text, format, file, actor);
            process.stdout.write(
              `imported ${file} into ${store.displayUrl}: ` +
                `pools ${s.pools.created} new ${s.pools.updated} updated, sites ${s.sites.created} new ${s.sites.updated} updated, ` +
                `gateways ${s.gateways.created} new ${s.gateways.updated} updated, resources ${s.resources.created} new ${s.resources.updated} updated\n`,
            );
          } catch (err) {
            if (!(err instanceof PortfolioImportError)) throw err;
            for (const issue of err.issues) process.stderr.write(`${formatIssue(file, issue)}\n`);
            throw new InvalidInputError(explain(err.issues.length === 1 ? 'cli.portfolio.importProblem' : 'cli.portfolio.importProblems', { file, count: err.issues.length }));
          }
        }, audit, opts);
      } finally {
        audit?.close(); // writes the final checkpoint
      }
    });

  accessOptions(portfolio
    .command('list')
    .description('List resources, filtered and searched, one page at a time')
    .option('--db <url>', 'aggregator store (default $ERAB_AGGREGATOR_DB or ./aggregator.db)')
    .option('--pool <id>', 'only resources of this pool')
    .option('--site <id>', 'only resources of this site')
    .addOption(new Option('--class <class>', 'only resources of this class').choices([...RESOURCE_CLASSES]))
    .option('--search <text>', 'case-insensitive text in id, name, maker, product, serial, firmware, location')
    .option('--limit <n>', 'page size 1..1000', '100')
    .option('--cursor <cursor>', 'continue after the page that printed this cursor')
    .option('--json', 'print the page as JSON'))
    .action(async (opts: AccessOpts & { db?: string; pool?: string; site?: string; class?: ResourceClass; search?: string; limit: string; cursor?: string; json?: boolean }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(explain('cli.portfolio.badLimit', { value: opts.limit }));
      await withPortfolio(opts.db ?? DEFAULT_DB(), (p) => withPersonalDataAccess(opts, 'read', 'aggregator portfolio list', { pool: opts.pool, site: opts.site, search: opts.search }, async () => {
        const page = await p.listResources({
          limit,
          ...(opts.pool !== undefined ? { poolId: opts.pool } : {}),
          ...(opts.site !== undefined ? { siteId: opts.site } : {}),
          ...(opts.class !== undefined ? { class: opts.class } : {}),
          ...(opts.search !== undefined ? { search: opts.search } : {}),
          ...(opts.cursor !== undefined ? { cursor: opts.cursor } : {}),
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
        } else {
          process.stdout.write(`${table(page.items)}\n`);
          const more = page.nextCursor ? `; next page: --cursor ${page.nextCursor}` : '';
          process.stdout.write(`${page.items.length} of ${page.total} resources${more}\n`);
        }
        return { result: undefined, subjects: page.items.map((r) => r.siteId) };
      }));
    });

  accessOptions(kekOptions(portfolio
    .command('export')
    .description('Write the portfolio as CSV in the import format (edit it and import it again)')
    .option('--db <url>', 'aggregator store (default $ERAB_AGGREGATOR_DB or ./aggregator.db)')
    .option('--pool <id>', 'only resources of this pool')))
    .action(async (opts: KekOptions & AccessOpts & { db?: string; pool?: string }) => {
      await withPortfolio(opts.db ?? DEFAULT_DB(), (_p, store, vault) => withPersonalDataAccess(opts, 'export', 'aggregator portfolio export', { pool: opts.pool }, async () => {
        const db = store.db as Kysely<PortfolioTables>;
        const n = await exportPortfolioCsv(db, (text) => { process.stdout.write(text); }, opts.pool !== undefined ? { poolId: opts.pool } : {}, vault);
        if (process.stderr.isTTY) process.stderr.write(`${n} resources exported\n`);
        const sites = await sql<{ site_id: string }>`select distinct site_id from portfolio_resource where ${opts.pool === undefined ? sql`1 = 1` : sql`pool_id = ${opts.pool}`}`.execute(db);
        return { result: undefined, subjects: sites.rows.map((r) => r.site_id), scope: opts.pool === undefined ? 'all' : `pool:${opts.pool}` };
      }), undefined, opts);
    });

  // The key re-seals the rest of the site's sealed batch without it (src/store/vault.ts, shred).
  accessOptions(kekFileOption(portfolio
    .command('erase')
    .description("Erase a site's personal data (name, address; crypto-shredded): a data subject's request or retention")
    .requiredOption('--site <id>', 'the site')
    .option('--db <url>', 'aggregator store (default $ERAB_AGGREGATOR_DB or ./aggregator.db)')))
    .action(async (opts: KekOptions & AccessOpts & { site: string; db?: string }) => {
      await withPortfolio(opts.db ?? DEFAULT_DB(), (p) => withPersonalDataAccess(opts, 'erase', 'aggregator portfolio erase', { site: opts.site }, async () => {
        if (!(await p.eraseSite(opts.site, operator(opts.operator), opts.purpose ?? ''))) throw new InvalidInputError(explain('cli.portfolio.noSite', { site: opts.site }));
        process.stdout.write(`personal data of site ${opts.site} erased\n`);
        return { result: undefined, subjects: [opts.site] };
      }), undefined, opts);
    });

  portfolio
    .command('pools')
    .description('List pools (TSO area × market product × upstream program) with their resources and capacity')
    .option('--db <url>', 'aggregator store (default $ERAB_AGGREGATOR_DB or ./aggregator.db)')
    .addOption(new Option('--area <area>', 'only pools of this TSO area').choices([...TSO_AREAS]))
    .addOption(new Option('--product <product>', 'only pools of this market product').choices([...MARKET_PRODUCTS]))
    .option('--json', 'print as JSON')
    .action(async (opts: { db?: string; area?: (typeof TSO_AREAS)[number]; product?: (typeof MARKET_PRODUCTS)[number]; json?: boolean }) => {
      await withPortfolio(opts.db ?? DEFAULT_DB(), async (p) => {
        const pools = await p.listPools({ ...(opts.area ? { tsoArea: opts.area } : {}), ...(opts.product ? { product: opts.product } : {}) });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(pools, null, 2)}\n`);
          return;
        }
        for (const x of pools) {
          process.stdout.write(`${x.id}  ${x.tsoArea}  ${x.product}  ${x.program}  resources ${x.resources}  reduce ${(x.reduceW / 1000).toFixed(1)} kW  increase ${(x.increaseW / 1000).toFixed(1)} kW  ${x.name}\n`);
        }
        if (pools.length === 0) process.stdout.write('no pools\n');
      });
    });
}
