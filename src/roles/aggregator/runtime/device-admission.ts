/**
 * An operator admits or rejects a device from the aggregator (自家用GL 6-2-4: only permitted
 * devices are controlled); a security officer quarantines one (back to its owner's mode, then
 * never commanded) and releases it (admitted again at the revision the officer saw). The gateway keeps the admission record; the aggregator knows its state
 * and revision from the gateway's last accepted inventory (the portfolio) and sends the decision
 * as a signed R4 event (src/roles/common/admission-signal.ts), so it passes the gateway's
 * command guard like any command. The gateway's next inventory upload shows the new state.
 *
 * Checked here first, so the operator hears at once rather than from a gateway's opt out:
 * - the device is in the portfolio and still listed by its gateway (else 404 / 409);
 * - admit names the revision the operator saw, which must be the one the portfolio holds (a
 *   stale revision is 409: the record changed, e.g. another identity answered, since it was read);
 *   an admitted device is not admitted twice, a rejected one not rejected twice (409); a
 *   quarantined one is not admitted but released (a security officer's decision, 409);
 * - quarantine takes an admitted or pending device (409 otherwise); release takes a quarantined
 *   one at the revision the officer saw (409 otherwise, or when stale);
 * - the gateway has registered with the downstream VTN (409 otherwise).
 * Each decision sent is audited with the operator who made it.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../core/clock.js';
import { PolicyRefusedError } from '../../../core/errors.js';
import { epochMillis, millis } from '../../../core/units.js';
import type { AuditSink } from '../../../security/audit/types.js';
import { NotFoundError } from '../../common/operator-routes.js';
import type { Resource } from '../portfolio/types.js';
import type { OperatorIdentity } from './approvals.js';
import type { DownstreamVtn } from './downstream.js';
import type { Fleet } from './fleet.js';
import { admissionEventOf } from './oadr-adapter.js';

/** How long the VTN offers a decision to a gateway that has not polled yet. */
export const ADMISSION_EVENT_VALID_MS = 60 * 60_000;

/** What the operator decided: admit or release at the revision seen, reject or quarantine with a reason. */
export type AdmissionDecision =
  | { decision: 'admit'; revision: number }
  | { decision: 'reject'; reason: string }
  | { decision: 'quarantine'; reason: string }
  | { decision: 'release'; revision: number; reason: string };

/** The decisions an operator makes, in the order the console shows them. */
export const ADMISSION_DECISIONS = ['admit', 'reject', 'quarantine', 'release'] as const;

/** The decision as sent: the event that carries it, for the operator to follow. */
export interface AdmissionSent {
  eventId: string;
  deviceId: string;
  gateway: string;
  decision: AdmissionDecision['decision'];
  /** The revision admitted (released), or the revision the device was at when rejected (quarantined). */
  revision: number;
}

export interface DeviceAdmissionDeps {
  aggregatorId: string;
  getResource(id: string): Promise<Resource | undefined>;
  fleet: Fleet;
  downstream: DownstreamVtn;
  audit: AuditSink;
  clock: Clock;
}

/**
 * Checks the decision against what the portfolio knows and sends it to the device's gateway.
 * @throws NotFoundError the device is not in the portfolio
 * @throws PolicyRefusedError a stale revision, a decision already in force, a device its gateway no
 *   longer lists or has not reported, a gateway not registered
 * @example await decideAdmission(deps, { id: 'alice' }, '027D01-ab12cd34ef', { decision: 'admit', revision: 1 })
 */
export async function decideAdmission(d: DeviceAdmissionDeps, op: OperatorIdentity, deviceId: string, decision: AdmissionDecision): Promise<AdmissionSent> {
  const shown = deviceId.slice(0, 128);
  const r = await d.getResource(deviceId);
  if (!r || r.gatewayId === null) throw new NotFoundError(`device ${shown}: not in the portfolio (no accepted inventory of a gateway lists it)`);
  if (!r.present) throw new PolicyRefusedError(`device ${shown}: its gateway ${r.gatewayId} no longer lists it`, { code: 'admission_absent' });
  if (r.admission === null || r.admissionRevision === null) {
    throw new PolicyRefusedError(`device ${shown}: its gateway has not reported an admission state yet`, { code: 'admission_unknown' });
  }
  const stale = (revision: number) => {
    if (revision !== r.admissionRevision) {
      throw new PolicyRefusedError(
        `device ${shown}: revision ${revision} is stale, the device is ${r.admission} at revision ${r.admissionRevision} (its record changed since it was read: read it again)`,
        { code: 'admission_stale' },
      );
    }
  };
  const decided = (what: string) => new PolicyRefusedError(`device ${shown}: ${what} (revision ${r.admissionRevision})`, { code: 'admission_decided' });
  switch (decision.decision) {
    case 'admit':
      if (r.admission === 'admitted') throw decided('already admitted');
      if (r.admission === 'quarantined') throw decided('quarantined; a security officer releases it');
      stale(decision.revision);
      break;
    case 'reject':
      if (r.admission === 'rejected') throw decided('already rejected');
      break;
    case 'quarantine':
      if (r.admission === 'quarantined') throw decided('already quarantined');
      if (r.admission === 'rejected') throw decided('rejected, never controlled: nothing to quarantine');
      break;
    case 'release':
      if (r.admission !== 'quarantined') throw decided(`${r.admission}, not quarantined: nothing to release`);
      stale(decision.revision);
      break;
  }
  // The gateway that declared it (its venID); the portfolio's gateway id when it is not in the fleet.
  const gateway = d.fleet.spec(deviceId)?.venId ?? r.gatewayId;
  const eventId = `admission-${randomUUID()}`;
  await d.downstream.sendAdmission(admissionEventOf({
    aggregatorId: d.aggregatorId, venId: gateway, eventId, deviceId,
    decision: 'revision' in decision ? { admit: decision.revision } : decision.decision as 'reject' | 'quarantine', label: decision.decision,
    issuedAt: epochMillis(d.clock.now()), validForMs: millis(ADMISSION_EVENT_VALID_MS),
  }));
  d.audit.append({
    actor: { kind: 'operator', id: op.id, role: op.role ?? 'operator', fingerprint: op.fingerprint }, action: `aggregator.device.${decision.decision}`, target: deviceId,
    outcome: 'success', ...('reason' in decision ? { reason: decision.reason } : {}),
    details: { gateway, eventId, state: r.admission, revision: r.admissionRevision },
  });
  return { eventId, deviceId, gateway, decision: decision.decision, revision: r.admissionRevision };
}
