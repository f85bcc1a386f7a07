/** Aggregator portfolio: pools, sites, gateways and resources. Public API. */
export * from './types.js';
export { portfolioMigrations, type PortfolioTables } from './tables.js';
export { Portfolio, type PortfolioOptions } from './portfolio.js';
export { importPortfolio, PortfolioImportError, formatIssue, MAX_IMPORT_CHARS, type ImportIssue, type ImportSummary, type ImportCounts, type ImportFormat } from './import.js';
export { upsertGatewayInventory, acceptDeclaredAssets, canonicalJson, INVENTORY_FORMAT, MAX_INVENTORY_DEVICES, type InventoryResult, type InventoryUploader, type PortfolioDb } from './inventory.js';
export { listResources, poolResources, getResource, listPools, listSites, listGateways, resourceFromRow, type ResourceQuery, type Page, type PoolSummary } from './query.js';
export { PORTFOLIO_FORMAT, defaultLimits, poolSchema, siteSchema, gatewaySchema, resourceSchema, type PoolInput, type SiteInput, type GatewayInput, type ResourceInput } from './model.js';
export { parseCsv, type CsvRecord } from './csv.js';
export { toAllocatable, notDispatchableReason, DEFAULT_COST_PER_KWH, type LiveState } from './allocatable.js';
export { exportPortfolioCsv, csvCell, EXPORT_COLUMNS } from './export.js';
