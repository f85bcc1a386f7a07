/** The built-in checks, and the placeholders for checks whose feature is still being built. */
import { absentFeatureCheck, CheckRegistry } from '../registry.js';
import { auditVerifyCheck, auditWitnessCheck } from './audit-log.js';
import { keyFileModeCheck } from './key-modes.js';
import { inventoryCompleteCheck, scopeDeclaredCheck, twoPersonRuleCheck } from './operations.js';
import { deviceAdmissionCheck, r4AllowListCheck, tsoSpecifiedPeersCheck } from './peers.js';
import { crlFreshCheck } from './revocation.js';
import { r1SignaturesCheck, r4SignaturesCheck } from './signatures.js';
import { mutualTlsCheck } from './transport.js';
import { activeStandbyCheck } from './continuity.js';
import { detectionRulesCheck, healthListenerCheck, syslogStreamCheck } from './monitoring.js';
import { signedUpdatesCheck } from './updates.js';
import { feedsRecentCheck, findingsOverdueCheck } from './vulnerabilities.js';

/**
 * Checks whose feature is being built (issue 18); until then they answer "feature not present in
 * this build". The module that brings the feature replaces one by id (`register(check, { replace: true })`)
 * or its real check is added to BUILTIN_CHECKS here and the placeholder line removed.
 */
export const PLACEHOLDER_CHECKS = [
  absentFeatureCheck('secops.backups-recent', 'Backups are recent and restorable', 'secops backup records'),
  absentFeatureCheck('secops.personal-data-encryption', 'Personal data is encrypted at rest', 'secops personal-data store settings'),
];

export function builtinRegistry(): CheckRegistry {
  const r = new CheckRegistry();
  for (const iface of ['R1', 'R2', 'R3', 'R4'] as const) r.register(mutualTlsCheck(iface));
  for (const c of [crlFreshCheck, keyFileModeCheck, tsoSpecifiedPeersCheck, r4AllowListCheck, deviceAdmissionCheck, r1SignaturesCheck, r4SignaturesCheck,
    auditVerifyCheck, auditWitnessCheck, inventoryCompleteCheck, twoPersonRuleCheck, scopeDeclaredCheck,
    findingsOverdueCheck, feedsRecentCheck, detectionRulesCheck, syslogStreamCheck, healthListenerCheck, signedUpdatesCheck, activeStandbyCheck,
    ...PLACEHOLDER_CHECKS]) r.register(c);
  return r;
}

let shared: CheckRegistry | undefined;
/** The process-wide registry `erab compliance` uses; a module adds its checks here at start-up. */
export function defaultRegistry(): CheckRegistry {
  shared ??= builtinRegistry();
  return shared;
}
