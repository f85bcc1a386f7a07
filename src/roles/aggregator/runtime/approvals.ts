/**
 * Operator commands and the two-person rule.
 *
 * 自家用電気工作物 cybersecurity guideline 7-1-2 (不正処理防止) asks that critical operations be
 * protected against a single person's mistake or misuse; docs/architecture.md §3 turns that into: a
 * fleet-wide or unusually large command is held until a SECOND, DIFFERENT operator approves
 * it. Guideline 8-1-1 (管理者権限) asks that every administrative action be attributed and
 * recorded: every submission, approval, rejection, expiry and refused attempt here is written
 * to the audit log with the operator's certificate identity.
 *
 * Operators are identified by their mutual-TLS operator certificate (role `operator`,
 * `urn:erab:operator:<id>`); this module receives the already authenticated identity.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../core/clock.js';
import { explain, InvalidInputError, NotAuthorizedError, PolicyRefusedError } from '../../../core/errors.js';
import type { AuditSink } from '../../../security/audit/types.js';
import type { ApprovalsConfig } from './config.js';

/**
 * An authenticated operator. Over the network (console.ts) it always comes from the operator's
 * certificate, with its role; an in-process caller (the demo, tests) may omit `role` and is then
 * taken as an operator it has authenticated itself.
 */
export interface OperatorIdentity {
  id: string;
  role?: string | undefined;
  fingerprint?: string | undefined;
}

const isOperator = (op: OperatorIdentity): boolean => op.role === undefined || op.role === 'operator';

/** What an operator can ask the fleet to do by hand. */
export interface ManualCommand {
  /** reduce = less net consumption (discharge, shed), increase = more (charge, absorb), release = end manual control. */
  action: 'reduce' | 'increase' | 'release';
  /** Total power over all addressed resources, W (ignored for release). */
  powerW: number;
  /** Resources addressed, or 'fleet' for every resource of the aggregator. */
  resources: readonly string[] | 'fleet';
  /** How long the command holds, ms (ignored for release). */
  durationMs: number;
  /** Free text reason, recorded in the audit log. */
  reason: string;
  /** The operator event (`operator/<id>`) this command modifies: cancelled when this one runs. */
  replaces?: string | undefined;
}

/**
 * `executed`: sent to the fleet in full; `short`: sent, but the fleet could not cover all of it
 * (the record's `shortfallW` says how much is missing) — never reported as executed.
 */
export type CommandState = 'held' | 'approved' | 'rejected' | 'expired' | 'executed' | 'short';

/** A command as the book keeps it. */
export interface CommandRecord {
  id: string;
  command: ManualCommand;
  submittedBy: OperatorIdentity;
  submittedAt: number;
  state: CommandState;
  /** Why a second operator is needed (absent when one was enough). */
  needsSecondBecause?: string | undefined;
  approvedBy?: OperatorIdentity | undefined;
  decidedAt?: number | undefined;
  expiresAt: number;
  /** Once run: the power sent to resources and the part no resource could take, W. */
  allocatedW?: number | undefined;
  shortfallW?: number | undefined;
  /** A short command: the addressed resources left out and why, e.g. "2 no fresh telemetry". */
  leftOut?: string | undefined;
}

/** What submitting a command led to. */
export type SubmitOutcome =
  | { state: 'approved'; record: CommandRecord }
  | { state: 'held'; record: CommandRecord };

const MAX_RESOURCES_PER_COMMAND = 1_000_000;
const MAX_PENDING = 1000;

/** Checks a command's shape; throws InvalidInputError naming the field. */
export function validateManualCommand(c: ManualCommand): void {
  if (c.action !== 'reduce' && c.action !== 'increase' && c.action !== 'release') {
    throw new InvalidInputError(explain('command.badAction', { action: String(c.action).slice(0, 40) }));
  }
  if (c.action !== 'release') {
    if (typeof c.powerW !== 'number' || !Number.isFinite(c.powerW) || c.powerW <= 0) {
      throw new InvalidInputError(explain('command.badPower'));
    }
    if (!Number.isInteger(c.durationMs) || c.durationMs <= 0 || c.durationMs > 24 * 3_600_000) {
      throw new InvalidInputError(explain('command.badDuration'));
    }
  }
  if (c.resources !== 'fleet') {
    if (!Array.isArray(c.resources) || c.resources.length === 0) {
      throw new InvalidInputError(explain('command.badResources'));
    }
    if (c.resources.length > MAX_RESOURCES_PER_COMMAND) throw new InvalidInputError(explain('command.tooManyResources', { max: MAX_RESOURCES_PER_COMMAND }));
    for (const r of c.resources) if (typeof r !== 'string' || r.length === 0 || r.length > 128) throw new InvalidInputError(explain('command.badResourceId'));
  }
  if (typeof c.reason !== 'string' || c.reason.trim().length === 0 || c.reason.length > 500) {
    throw new InvalidInputError(explain('command.noReason'));
  }
}

/**
 * Why `c` needs a second operator under `cfg`, or undefined when one is enough.
 * Fleet-wide commands always need one; otherwise the power or the share of the fleet decides.
 * `release` (end manual control) never does.
 * @example secondOperatorReason({ action: 'reduce', powerW: 80_000, resources: ['a'], durationMs: 60_000, reason: 'test' }, cfg, 100)
 *   // 'total power 80.0 kW exceeds the single-operator limit of 50.0 kW'
 */
export function secondOperatorReason(c: ManualCommand, cfg: ApprovalsConfig, fleetSize: number): string | undefined {
  // Release returns devices to their owners' normal operation: the safe direction, never held.
  if (c.action === 'release') return undefined;
  if (c.resources === 'fleet') return 'the command addresses the whole fleet';
  if (c.powerW > cfg.maxSingleOperatorW) {
    return `total power ${(c.powerW / 1000).toFixed(1)} kW exceeds the single-operator limit of ${(cfg.maxSingleOperatorW / 1000).toFixed(1)} kW`;
  }
  const share = fleetSize > 0 ? (c.resources.length / fleetSize) * 100 : 100;
  if (share > cfg.maxSingleOperatorFleetPercent) {
    return `${c.resources.length} resources are ${share.toFixed(1)} % of the fleet, above the single-operator limit of ${cfg.maxSingleOperatorFleetPercent} %`;
  }
  return undefined;
}

function actor(op: OperatorIdentity) {
  return { kind: 'operator' as const, id: op.id, role: op.role ?? 'operator', fingerprint: op.fingerprint };
}

function requireOperator(op: OperatorIdentity, what: string): void {
  if (!isOperator(op)) throw new NotAuthorizedError(explain('command.notOperator', { what, role: op.role ?? '?', id: op.id }));
}

/**
 * Keeps operator commands until they may run. Small commands are approved on submission;
 * large or fleet-wide ones are held for a second, different operator.
 *
 * @example
 *   const book = new ApprovalBook(cfg.approvals, systemClock, audit, () => fleet.size);
 *   const out = book.submit(alice, { action: 'reduce', powerW: 200_000, resources: 'fleet', durationMs: 3_600_000, reason: 'grid emergency drill' });
 *   // out.state === 'held'; later:
 *   const rec = book.approve(out.record.id, bob); // rec.state === 'approved' → execute it
 */
export class ApprovalBook {
  private readonly records = new Map<string, CommandRecord>();

  constructor(
    private readonly cfg: ApprovalsConfig,
    private readonly clock: Clock,
    private readonly audit: AuditSink,
    private readonly fleetSize: () => number,
    /** Whether a resource id is in the fleet: a command naming an unknown one is refused. */
    private readonly isKnown: (resourceId: string) => boolean = () => true,
  ) {}

  /** Submits a command; throws NotAuthorizedError for a non-operator, InvalidInputError for a malformed command. */
  submit(op: OperatorIdentity, command: ManualCommand): SubmitOutcome {
    try {
      requireOperator(op, 'manual command');
      validateManualCommand(command);
      if (command.resources !== 'fleet') {
        const unknown = command.resources.filter((r) => !this.isKnown(r));
        if (unknown.length > 0) throw new InvalidInputError(explain('command.notInFleet', { noun: unknown.length === 1 ? 'resource' : 'resources', ids: unknown.slice(0, 5).map((r) => `"${r.slice(0, 64)}"`).join(', ') }));
      }
    } catch (err) {
      this.audit.append({ actor: actor(op), action: 'operator.command.submit', outcome: 'refused', reason: (err as Error).message, details: { action: String(command?.action) } });
      throw err;
    }
    this.expireOld();
    if ([...this.records.values()].filter((r) => r.state === 'held').length >= MAX_PENDING) {
      throw new PolicyRefusedError(explain('command.tooManyHeld', { max: MAX_PENDING }));
    }
    const now = this.clock.now();
    const because = secondOperatorReason(command, this.cfg, this.fleetSize());
    const record: CommandRecord = {
      id: randomUUID(),
      command: { ...command, resources: command.resources === 'fleet' ? 'fleet' : [...command.resources] },
      submittedBy: { ...op },
      submittedAt: now,
      state: because ? 'held' : 'approved',
      needsSecondBecause: because,
      expiresAt: now + this.cfg.expiresAfterMs,
      ...(because ? {} : { decidedAt: now }),
    };
    this.records.set(record.id, record);
    this.audit.append({
      actor: actor(op),
      action: 'operator.command.submit',
      target: record.id,
      outcome: 'success',
      reason: because ? `held for a second operator: ${because}` : 'within single-operator limits',
      details: summary(record),
    });
    return { state: record.state as 'held' | 'approved', record };
  }

  /**
   * A second operator approves a held command. Refused (and audited) when the approver is the
   * submitter, not an operator, or the command is not held (unknown, expired, decided).
   */
  approve(id: string, op: OperatorIdentity): CommandRecord {
    const rec = this.decide(id, op, 'approve');
    rec.state = 'approved';
    rec.approvedBy = { ...op };
    rec.decidedAt = this.clock.now();
    this.audit.append({ actor: actor(op), action: 'operator.command.approve', target: id, outcome: 'success', details: summary(rec) });
    return rec;
  }

  /** An operator (the submitter or another) withdraws or rejects a held command. */
  reject(id: string, op: OperatorIdentity, reason: string): CommandRecord {
    const rec = this.decide(id, op, 'reject', true);
    rec.state = 'rejected';
    rec.decidedAt = this.clock.now();
    this.audit.append({ actor: actor(op), action: 'operator.command.reject', target: id, outcome: 'success', reason, details: summary(rec) });
    return rec;
  }

  /** Marks an approved command as sent to the fleet: `short` when part of its power found no resource. */
  markExecuted(id: string, result: { allocatedW: number; shortfallW: number; leftOut?: string | undefined } = { allocatedW: 0, shortfallW: 0 }): void {
    const rec = this.records.get(id);
    if (!rec || rec.state !== 'approved') return;
    rec.allocatedW = result.allocatedW;
    rec.shortfallW = result.shortfallW;
    if (result.leftOut) rec.leftOut = result.leftOut;
    rec.state = result.shortfallW > 0 ? 'short' : 'executed';
  }

  get(id: string): CommandRecord | undefined {
    this.expireOld();
    return this.records.get(id);
  }

  /** Every command, newest first. */
  list(): CommandRecord[] {
    this.expireOld();
    return [...this.records.values()].sort((a, b) => b.submittedAt - a.submittedAt);
  }

  private decide(id: string, op: OperatorIdentity, verb: 'approve' | 'reject', submitterMay = false): CommandRecord {
    const refuse = (err: Error): never => {
      this.audit.append({ actor: actor(op), action: `operator.command.${verb}`, target: id, outcome: 'refused', reason: err.message });
      throw err;
    };
    if (!isOperator(op)) refuse(new NotAuthorizedError(explain('command.notOperator', { what: verb, role: op.role ?? '?', id: op.id })));
    this.expireOld();
    const rec = this.records.get(id);
    if (!rec) return refuse(new InvalidInputError(explain('command.unknown', { verb, id: id.slice(0, 100) })));
    if (rec.state !== 'held') return refuse(new PolicyRefusedError(explain('command.notHeld', { verb, id, state: rec.state })));
    if (!submitterMay && sameOperator(rec.submittedBy, op)) {
      return refuse(new NotAuthorizedError(explain('command.sameOperator', { verb, operator: op.id, id })));
    }
    return rec;
  }

  private expireOld(): void {
    const now = this.clock.now();
    for (const rec of this.records.values()) {
      if (rec.state === 'held' && now >= rec.expiresAt) {
        rec.state = 'expired';
        rec.decidedAt = now;
        this.audit.append({ actor: { kind: 'system', id: 'aggregator' }, action: 'operator.command.expire', target: rec.id, outcome: 'failure', reason: 'no second operator approved in time', details: summary(rec) });
      }
    }
  }
}

/** Two identities are the same operator when the id or the certificate matches. */
function sameOperator(a: OperatorIdentity, b: OperatorIdentity): boolean {
  return a.id === b.id || (a.fingerprint !== undefined && a.fingerprint === b.fingerprint);
}

function summary(r: CommandRecord): Record<string, unknown> {
  const c = r.command;
  return {
    action: c.action,
    powerW: c.powerW,
    resources: c.resources === 'fleet' ? 'fleet' : c.resources.length,
    durationMs: c.durationMs,
    reason: c.reason,
    submittedBy: r.submittedBy.id,
    ...(r.approvedBy ? { approvedBy: r.approvedBy.id } : {}),
  };
}
