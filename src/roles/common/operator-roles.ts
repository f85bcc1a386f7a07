/**
 * Per-operator roles on every operator listener (aggregator console, TSO/retailer API, gateway
 * operator listener). The mutual-TLS certificate says WHO the operator is (`urn:erab:operator:<id>`);
 * this table says WHAT that operator may do (自家用GL 8-1-1: administrative rights given per person
 * and kept to what the work needs).
 *
 *   viewer            reads everything an operator may read (status, fleet, commands, audit views)
 *   operator          + submits and cancels commands and events, admits devices
 *   approver          + approves or rejects held commands (the two-person rule still applies)
 *   security officer  reads, and acts on security: quarantine and release devices, safe mode, alerts
 *   administrator     everything, including portfolio imports
 *
 * A role is found by the certificate's fingerprint first, then by the operator id, then `default`.
 * Without a `roles` table in the configuration every operator the allow-list admits is an
 * administrator (the behaviour before roles existed); write one to restrict them.
 *
 * @example
 * const roles = new OperatorRoleTable({ default: 'viewer', operators: { alice: 'operator', bob: 'approver' } });
 * roles.roleOf({ id: 'bob', fingerprint: 'AB:..' }) // 'approver'
 * grants('approver', 'operator') // true
 */
import { z } from 'zod';
import { normalizeFingerprint, PARTICIPANT_ID_PATTERN } from '../../security/identity.js';

export const OPERATOR_ROLES = ['viewer', 'operator', 'approver', 'security officer', 'administrator'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

const roleSchema = z.enum(OPERATOR_ROLES);

/** `roles`: who may do what on this listener (see the module comment). */
export const operatorRolesSchema = z.object({
  /** The role of an operator the table does not name. */
  default: roleSchema.default('viewer'),
  /** Operator id (the `<id>` of `urn:erab:operator:<id>`) → role. */
  operators: z.record(z.string().regex(PARTICIPANT_ID_PATTERN), roleSchema).default({}),
  /** Certificate fingerprint (OpenADR 10-byte form or full SHA-256, hex, colons optional) → role; wins over `operators`. */
  fingerprints: z.record(z.string().regex(/^[0-9A-Fa-f:]{20,95}$/), roleSchema).default({}),
}).strict();

export type OperatorRolesConfig = z.input<typeof operatorRolesSchema>;

/**
 * True when an operator holding `held` may use a route that needs `needed`. The ladder viewer <
 * operator < approver < administrator; the security officer stands beside it (viewer's reads and
 * its own actions) and the administrator holds everything.
 */
export function grants(held: OperatorRole, needed: OperatorRole): boolean {
  if (held === 'administrator' || needed === 'viewer' || held === needed) return true;
  if (needed === 'operator') return held === 'approver';
  return false;
}

/** The compiled `roles` table of one listener. */
export class OperatorRoleTable {
  private readonly byFingerprint: ReadonlyMap<string, OperatorRole>;
  private readonly byId: ReadonlyMap<string, OperatorRole>;
  private readonly fallback: OperatorRole;

  /** `config` undefined: every admitted operator is an administrator (no table written). */
  constructor(config?: OperatorRolesConfig) {
    if (!config) {
      this.byFingerprint = new Map();
      this.byId = new Map();
      this.fallback = 'administrator';
      return;
    }
    const c = operatorRolesSchema.parse(config);
    this.byFingerprint = new Map(Object.entries(c.fingerprints).map(([f, r]) => [normalizeFingerprint(f), r]));
    this.byId = new Map(Object.entries(c.operators));
    this.fallback = c.default;
  }

  roleOf(op: { id: string; fingerprint?: string | undefined }): OperatorRole {
    if (op.fingerprint) {
      const r = this.byFingerprint.get(normalizeFingerprint(op.fingerprint));
      if (r) return r;
    }
    return this.byId.get(op.id) ?? this.fallback;
  }
}
