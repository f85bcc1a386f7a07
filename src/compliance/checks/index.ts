/** The built-in checks. */
import { CheckRegistry } from '../registry.js';
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
import { backupsRecentCheck } from './backups.js';
import { personalDataEncryptionCheck } from './personal-data.js';
import { r5TransportCheck } from './r5-transport.js';

export function builtinRegistry(): CheckRegistry {
  const r = new CheckRegistry();
  for (const iface of ['R1', 'R2', 'R3', 'R4'] as const) r.register(mutualTlsCheck(iface));
  for (const c of [crlFreshCheck, keyFileModeCheck, tsoSpecifiedPeersCheck, r4AllowListCheck, deviceAdmissionCheck, r1SignaturesCheck, r4SignaturesCheck,
    auditVerifyCheck, auditWitnessCheck, inventoryCompleteCheck, twoPersonRuleCheck, scopeDeclaredCheck,
    findingsOverdueCheck, feedsRecentCheck, detectionRulesCheck, syslogStreamCheck, healthListenerCheck, signedUpdatesCheck, activeStandbyCheck,
    backupsRecentCheck, personalDataEncryptionCheck, r5TransportCheck]) r.register(c);
  return r;
}

let shared: CheckRegistry | undefined;
/** The process-wide registry `erab compliance` uses; a module adds its checks here at start-up. */
export function defaultRegistry(): CheckRegistry {
  shared ??= builtinRegistry();
  return shared;
}
