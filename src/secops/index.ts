/**
 * secops: vulnerability management above the roles' stores (issue 13). Public API.
 *
 * Inventory (participants, gateways, devices, erab's own software; change history; CPE/purl;
 * CycloneDX 1.6), feeds (NVD CVE API 2.0, JVN iPedia/MyJVN, CSAF 2.0; hardened, all-or-nothing,
 * incremental), matching (indexed inventory × advisories → findings with a lifecycle, audited).
 * Compose `secopsMigrations` (with the portfolio's) into the store.
 */
export { secopsMigrations, type SecopsTables } from './tables.js';
export { parseCpe, formatCpe23, cpeKey, normalizeName, type Cpe } from './cpe.js';
// inventory
export { syncInventoryFromPortfolio, setMaker, siteAssetId, gatewayAssetId, deviceAssetId } from './inventory/sync.js';
export { readSoftwareReport, recordSoftware, roleAssetId, softwareAssetId, type SoftwareReport, type SoftwarePackage } from './inventory/software.js';
export { listAssets, assetHistory, type AssetKind, type AssetChange } from './inventory/query.js';
export { buildCycloneDx } from './inventory/cyclonedx.js';
export { deviceCpe, npmPurl, nodeCpe } from './inventory/identifiers.js';
export type { AssetRow, ApplyResult } from './inventory/apply.js';
// feeds
export { importFeed, parseFeed, fetchFeed, listImports, advisoryUid, type FeedImportSummary, type ImportFeedOptions } from './feeds/import.js';
export { FEED_FORMATS, type Advisory, type AffectedProduct, type Cvss, type FeedFormat } from './feeds/model.js';
export { DEFAULT_MAX_FEED_BYTES, DEFAULT_MAX_DEPTH, type FeedLimits } from './feeds/guard.js';
// matching
export { AdvisoryIndex, matchAll, type Match, type MatchAsset, type MatchAdvisory, type Confidence, type MatchKind } from './matching/engine.js';
export { compareVersions, inRange, parseVers, describeRange, type VersionRange } from './matching/version.js';
export { evaluateFindings, setFindingStatus, acceptRisk, markNotified, expireRiskAcceptances, findingId, FINDING_STATUSES, type FindingStatus, type EvaluateResult, type StatusChange } from './matching/findings.js';
export { InventoryReevaluator, type ReevaluatorOptions } from './matching/reevaluate.js';
export { listFindings, findingsByAdvisory, ACTIVE_STATUSES, type FindingView, type FindingQuery, type SiteGroup } from './matching/query.js';
// notifying an advisory's recipients at once (matching × notify)
export { notifyAdvisory, advisoryNoticeData, type AdvisoryNoticeOptions, type AdvisoryNoticeResult } from './advisory-notice.js';
