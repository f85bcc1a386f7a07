/** The built-in checks, and the placeholders for checks that src/secops/* provides. */
import { absentFeatureCheck, CheckRegistry } from '../registry.js';
import { auditVerifyCheck, auditWitnessCheck } from './audit-log.js';
import { keyFileModeCheck } from './key-modes.js';
import { inventoryCompleteCheck, scopeDeclaredCheck, twoPersonRuleCheck } from './operations.js';
import { deviceAdmissionCheck, r4AllowListCheck, tsoSpecifiedPeersCheck } from './peers.js';
import { crlFreshCheck } from './revocation.js';
import { r1SignaturesCheck, r4SignaturesCheck } from './signatures.js';
import { mutualTlsCheck } from './transport.js';

/** Checks other modules provide; until then they answer "feature not present in this build". */
export const SECOPS_CHECKS = [
  absentFeatureCheck('secops.findings-overdue', 'No vulnerability finding is older than its deadline', 'secops findings and their deadlines'),
  absentFeatureCheck('secops.detection-rules', 'Detection rules are enabled', 'secops detection rules'),
  absentFeatureCheck('secops.backups-recent', 'Backups are recent and restorable', 'secops backup records'),
  absentFeatureCheck('secops.personal-data-encryption', 'Personal data is encrypted at rest', 'secops personal-data store settings'),
];

export function builtinRegistry(): CheckRegistry {
  const r = new CheckRegistry();
  for (const iface of ['R1', 'R2', 'R3', 'R4'] as const) r.register(mutualTlsCheck(iface));
  for (const c of [crlFreshCheck, keyFileModeCheck, tsoSpecifiedPeersCheck, r4AllowListCheck, deviceAdmissionCheck, r1SignaturesCheck, r4SignaturesCheck,
    auditVerifyCheck, auditWitnessCheck, inventoryCompleteCheck, twoPersonRuleCheck, scopeDeclaredCheck, ...SECOPS_CHECKS]) r.register(c);
  return r;
}

let shared: CheckRegistry | undefined;
/** The process-wide registry `erab compliance` uses; a module adds its checks here at start-up. */
export function defaultRegistry(): CheckRegistry {
  shared ??= builtinRegistry();
  return shared;
}
