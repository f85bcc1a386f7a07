/**
 * The EMS gateway role (HEMS/BEMS controller between an aggregator and a site's devices):
 * public API. See gateway.ts for the running gateway and each module's header for its rules.
 */
export { Gateway, gatewayConfigSchema, acceleratedClock, type GatewayConfig, type GatewayConfigInput, type GatewayDeps, type GatewayStatus } from './gateway.js';
export { SafetyPolicy, FailSafe, sitePolicySchema, classPolicySchema, DEFAULT_CLASS_POLICY, planRamp, withinHours, jstMinuteOfDay, type SitePolicy, type SitePolicyInput, type ClassPolicy, type PolicyDecision, type PolicyRule, type FailSafeVerdict } from './policy.js';
export { translateSignals, validateSignals, signalPowerW, readingToUsage, readingToStatus, translationConfigSchema, type DeviceProfile, type TranslationResult, type TelemetryPoint, type ResourceStatus } from './translate.js';
export { CommandGuard, MemoryReplayStore, targetedResources, type GuardConfig, type GuardEvent, type GuardPayload, type GuardResult, type EventVerdict, type ReplayStore, type SignatureVerifier, type SignatureVerdict, type SignerIdentity } from './command-guard.js';
export { AdmissionRegistry, MemoryAdmissionStore, ADMISSION_SIGNAL_NAME, deviceIdOf, identityKey, sameIdentity, type AdmissionState, type AdmissionStore, type AllowListEntry, type DeviceIdentity, type DeviceRecord, type ObservedDevice } from './admission.js';
export { buildInventory, InventoryTracker, assetUrn, parseAssetUrn, canonicalJson, describeDataPoints, INVENTORY_FORMAT, type InventoryDocument, type InventoryItem, type DeviceDetails, type DataPointDescription } from './inventory.js';
export { EventEngine, signalsAt, contradicts, type GatewayEvent, type EventAnswer, type DevicePort, type DeviceDirectory } from './engine.js';
export { EchonetSite, propertiesFor, describeLocation, identityOfNode } from './echonet-site.js';
export { GATEWAY_DB_MIGRATIONS, gatewayMigrations, SqlAdmissionStore, SqlReplayStore } from './persistence.js';
export * from './types.js';
export { NoticeInbox, gatewayNoticeMigrations, type SiteNotice } from './notices.js';
