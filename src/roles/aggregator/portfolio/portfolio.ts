/**
 * The portfolio service: one object over the aggregator's store that imports, accepts gateway
 * inventories, and answers queries. Operator imports and gateway uploads are security-relevant
 * changes of what the aggregator may command (自家用GL 8-1-1 attributable administrative
 * actions, 8-2 asset inventory), so each one — accepted or refused — goes to the audit log.
 */
import { PersonalDataVault } from '../../../store/vault.js';
import { siteSubject } from './tables.js';

/** What an erased site's name reads as. */
export const ERASED = '(erased)';
import type { Kysely } from 'kysely';
import { systemClock, type Clock } from '../../../core/clock.js';
import { ErabError, describeError } from '../../../core/errors.js';
import type { AuditActor, AuditSink } from '../../../security/audit/types.js';
import type { Store } from '../../../store/store.js';
import type { StoreDialect } from '../../../store/url.js';
import { importPortfolio, PortfolioImportError, type ImportFormat, type ImportSummary } from './import.js';
import { acceptDeclaredAssets, upsertGatewayInventory, type InventoryResult, type InventoryUploader } from './inventory.js';
import { acceptGatewaySoftware, type SoftwareResult } from './software.js';
import { getResource, listGateways, listPools, listResources, listSites, poolResources, type Page, type PoolSummary, type ResourceQuery } from './query.js';
import type { PortfolioTables } from './tables.js';
import type { Gateway, MarketProduct, Resource, Site, TsoArea } from './types.js';

export interface PortfolioOptions {
  clock?: Clock;
  audit?: AuditSink;
  /** Seals and opens the sites' personal fields (name, address); without it they are stored in clear. */
  vault?: PersonalDataVault;
}

/**
 * @example
 * const store = await openStore({ url: 'aggregator.db', migrations: composeMigrations(portfolioMigrations) });
 * const portfolio = new Portfolio(store, { audit });
 * await portfolio.importText(csvText, 'csv', 'fleet.csv', { kind: 'operator', id: 'alice' });
 * const page = await portfolio.listResources({ poolId: 'tokyo-tertiary2', class: 'battery' });
 */
export class Portfolio {
  private readonly db: Kysely<PortfolioTables>;
  private readonly dialect: StoreDialect;
  private readonly clock: Clock;
  private readonly audit: AuditSink | undefined;
  private readonly vault: PersonalDataVault | undefined;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  constructor(store: Store<any>, options: PortfolioOptions = {}) {
    this.db = store.db as Kysely<PortfolioTables>;
    this.dialect = store.dialect;
    this.clock = options.clock ?? systemClock;
    this.audit = options.audit;
    this.vault = options.vault;
  }

  /**
   * Imports a CSV or JSON file's text (all or nothing).
   * @throws PortfolioImportError with every problem (line, field, rule)
   */
  async importText(text: string, format: ImportFormat, source: string, actor: AuditActor): Promise<ImportSummary> {
    try {
      const summary = await importPortfolio(this.db, { text, format, source }, this.clock, this.vault);
      this.audit?.append({ actor, action: 'portfolio.import', target: source, outcome: 'success', details: { ...summary } });
      return summary;
    } catch (err) {
      this.audit?.append({
        actor, action: 'portfolio.import', target: source, outcome: err instanceof PortfolioImportError ? 'refused' : 'failure',
        reason: err instanceof PortfolioImportError ? `${err.issues.length} problems` : describeError(err),
      });
      throw err;
    }
  }

  /**
   * Erases a site's personal data (a data subject's request, or its retention period ended):
   * its name and address are blanked and its key crypto-shredded, so sealed copies (backups,
   * replicas) cannot be read either. The site, its resources and the audit log stay: records
   * reference the site by id, never by its data, so the audit log still verifies.
   * Resolves to false when the site does not exist.
   */
  async eraseSite(siteId: string, actor: AuditActor, reason: string): Promise<boolean> {
    const found = await this.db.transaction().execute(async (trx) => {
      const r = await trx.updateTable('portfolio_site').set({ name: ERASED, address: null, name_index: null, updated_at: this.clock.now() }).where('id', '=', siteId).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      await (this.vault ?? PersonalDataVault).shred(trx, siteSubject(siteId));
      return true;
    });
    this.audit?.append({ actor, action: 'personal-data.erase', target: siteId, outcome: found ? 'success' : 'failure', ...(found ? {} : { reason: 'no such site' }), details: { purpose: reason, subjects: [siteId] } });
    return found;
  }

  /** Records a gateway's own software upload (`erab-software/1`, see ./software.ts); audited. */
  async acceptSoftware(uploader: InventoryUploader, body: Buffer | string): Promise<SoftwareResult> {
    const actor: AuditActor = { kind: 'peer', id: uploader.gatewayId, role: 'gateway' };
    try {
      const r = await acceptGatewaySoftware(this.db, uploader.gatewayId, body, this.clock);
      if (!r.unchanged) this.audit?.append({ actor, action: 'portfolio.software', target: uploader.gatewayId, outcome: 'success', details: { digest: r.digest, erab: r.erabVersion, packages: r.packages } });
      return r;
    } catch (err) {
      this.audit?.append({
        actor, action: 'portfolio.software', target: uploader.gatewayId, outcome: err instanceof ErabError ? 'refused' : 'failure',
        reason: describeError(err).slice(0, 500), details: err instanceof ErabError ? { code: err.code } : undefined,
      });
      throw err;
    }
  }

  /** Applies a gateway's inventory upload (see ./inventory.ts for every check). */
  async acceptInventory(uploader: InventoryUploader & { actor?: AuditActor }, document: unknown): Promise<InventoryResult> {
    const actor: AuditActor = uploader.actor ?? { kind: 'peer', id: uploader.gatewayId, role: 'gateway' };
    try {
      const result = await upsertGatewayInventory({ db: this.db, dialect: this.dialect }, uploader, document, this.clock);
      if (!result.unchanged) {
        this.audit?.append({ actor, action: 'portfolio.inventory', target: uploader.gatewayId, outcome: 'success', details: { digest: result.digest, added: result.added, updated: result.updated, missing: result.missing } });
      }
      return result;
    } catch (err) {
      this.audit?.append({
        actor, action: 'portfolio.inventory', target: uploader.gatewayId, outcome: err instanceof ErabError ? 'refused' : 'failure',
        reason: describeError(err), details: err instanceof ErabError ? { code: err.code } : undefined,
      });
      throw err;
    }
  }

  /**
   * Applies the devices a gateway declared in its OpenADR METADATA registration (asset URNs);
   * wire it to the downstream VTN's `onResources(venId, resources)`.
   */
  async acceptDeclaredAssets(
    uploader: InventoryUploader & { actor?: AuditActor },
    declared: readonly { resourceId: string; asset?: string | undefined }[],
  ): Promise<InventoryResult & { undescribed: number }> {
    const actor: AuditActor = uploader.actor ?? { kind: 'peer', id: uploader.gatewayId, role: 'gateway' };
    try {
      const result = await acceptDeclaredAssets({ db: this.db, dialect: this.dialect }, uploader, declared, this.clock);
      if (!result.unchanged) {
        this.audit?.append({ actor, action: 'portfolio.inventory', target: uploader.gatewayId, outcome: 'success', details: { digest: result.digest, added: result.added, updated: result.updated, missing: result.missing, carrier: 'metadata' } });
      }
      return result;
    } catch (err) {
      this.audit?.append({
        actor, action: 'portfolio.inventory', target: uploader.gatewayId, outcome: err instanceof ErabError ? 'refused' : 'failure',
        reason: describeError(err), details: { carrier: 'metadata', ...(err instanceof ErabError ? { code: err.code } : {}) },
      });
      throw err;
    }
  }

  listResources(q: ResourceQuery = {}): Promise<Page<Resource>> {
    return listResources(this.db, q);
  }

  /** Every resource of a pool (present ones unless told otherwise), for allocation. */
  poolResources(poolId: string, options: { presentOnly?: boolean } = {}): Promise<Resource[]> {
    return poolResources(this.db, poolId, options);
  }

  getResource(id: string): Promise<Resource | undefined> {
    return getResource(this.db, id);
  }

  listPools(filter: { tsoArea?: TsoArea; product?: MarketProduct } = {}): Promise<PoolSummary[]> {
    return listPools(this.db, filter);
  }

  listSites(q: { poolId?: string; search?: string; limit?: number; cursor?: string } = {}): Promise<Page<Site>> {
    return listSites(this.db, q, this.vault);
  }

  listGateways(q: { siteId?: string } = {}): Promise<Gateway[]> {
    return listGateways(this.db, q);
  }
}
