/**
 * Which authenticated peers a listener admits (ERAB cybersecurity guideline §3.3.1: the TSO's
 * system accepts only the aggregators it has specified; docs/architecture.md §3 "allow-list of peer
 * certificates per listener").
 *
 * A peer is admitted when
 *   - its role is in `roles`, if `roles` is given, AND
 *   - its certificate fingerprint is in `fingerprints` or its participant is in
 *     `participants`, if either of those is given.
 * So `{ roles: ['gateway'] }` admits any gateway the CA certified, `{ participants:
 * ['aggregator:AGG1'] }` admits exactly that aggregator, and `{ fingerprints: [...] }` pins
 * certificates (the OpenADR way). An allow-list with none of the three admits nobody: the
 * safe default. `anyCertifiedPeer: true` must be written out to admit every certified peer.
 */
import { InvalidInputError } from '../core/errors.js';
import { PARTICIPANT_ID_PATTERN, isParticipantRole, normalizeFingerprint, type ParticipantRole, type PeerIdentity } from './identity.js';

/** Configuration form of an allow-list (e.g. from a role's JSON config). */
export interface AllowListConfig {
  /** Certificate fingerprints: OpenADR 10-byte form or full SHA-256, with or without colons. */
  fingerprints?: readonly string[];
  /** Participants as `role:id` (exact) or a bare `id` (any role). */
  participants?: readonly string[];
  /** Roles admitted; restricts the entries above, or on its own admits every peer of the roles. */
  roles?: readonly (ParticipantRole | string)[];
  /** Admit every peer certified by the configured CA(s). Off unless written out. */
  anyCertifiedPeer?: boolean;
}

/** Result of {@link AllowList.check}: admitted, or refused with a reason for the audit log. */
export type AllowListDecision = { allowed: true } | { allowed: false; reason: string };

/** A compiled allow-list; checking a peer is a few Set lookups. */
export class AllowList {
  private readonly fingerprints: ReadonlySet<string>;
  private readonly exactParticipants: ReadonlySet<string>;
  private readonly bareIds: ReadonlySet<string>;
  private readonly roles: ReadonlySet<string> | undefined;
  private readonly any: boolean;

  /** Validates `config`; throws InvalidInputError naming the bad entry. */
  constructor(config: AllowListConfig) {
    this.fingerprints = new Set((config.fingerprints ?? []).map((f) => normalizeFingerprint(f)));
    const exact = new Set<string>();
    const bare = new Set<string>();
    for (const p of config.participants ?? []) {
      const i = p.indexOf(':');
      if (i < 0) {
        if (!PARTICIPANT_ID_PATTERN.test(p)) throw new InvalidInputError(`allow-list participant "${p}" is not a valid participant id`);
        bare.add(p);
      } else {
        const role = p.slice(0, i);
        const id = p.slice(i + 1);
        if (!isParticipantRole(role) || !PARTICIPANT_ID_PATTERN.test(id)) {
          throw new InvalidInputError(`allow-list participant "${p}" must be "<role>:<id>" with a known role, or a bare id`);
        }
        exact.add(`${role}:${id}`);
      }
    }
    this.exactParticipants = exact;
    this.bareIds = bare;
    if (config.roles) {
      for (const r of config.roles) if (!isParticipantRole(r)) throw new InvalidInputError(`allow-list role "${r}" is not a known role`);
      this.roles = new Set(config.roles);
    }
    this.any = config.anyCertifiedPeer === true;
  }

  /** True when the list can admit anybody at all (a listener with an empty list is useless). */
  get admitsAnyone(): boolean {
    return this.any || this.roles !== undefined || this.fingerprints.size > 0 || this.exactParticipants.size > 0 || this.bareIds.size > 0;
  }

  /**
   * Decides whether `peer` is admitted.
   * @example new AllowList({ participants: ['aggregator:AGG1'] }).check(peer) // { allowed: true }
   */
  check(peer: Pick<PeerIdentity, 'role' | 'id' | 'fingerprint'>): AllowListDecision {
    if (this.any) return { allowed: true };
    if (this.roles && !this.roles.has(peer.role)) {
      return { allowed: false, reason: `role ${peer.role} is not admitted on this listener` };
    }
    const pinned = this.fingerprints.size > 0 || this.exactParticipants.size > 0 || this.bareIds.size > 0;
    if (!pinned) {
      return this.roles ? { allowed: true } : { allowed: false, reason: 'the allow-list of this listener is empty' };
    }
    if (this.fingerprints.has(peer.fingerprint) || this.exactParticipants.has(`${peer.role}:${peer.id}`) || this.bareIds.has(peer.id)) {
      return { allowed: true };
    }
    return { allowed: false, reason: `${peer.role} ${peer.id} (fingerprint ${peer.fingerprint}) is not on the allow-list` };
  }
}
