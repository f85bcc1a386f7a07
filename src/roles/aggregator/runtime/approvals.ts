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
import { formatJst } from '../../../core/jst.js';
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
  /**
   * Resources addressed: ids, 'fleet' for every resource of the aggregator, or `{ pool }` for the
   * resources of one portfolio pool (ResourceSpec.pool), resolved when the command runs.
   */
  resources: CommandResources;
  /** How long the command holds, ms (ignored for release). */
  durationMs: number;
  /** Free text reason, recorded in the audit log. */
  reason: string;
  /** The operator event (`operator/<id>`) this command modifies: cancelled when this one runs. */
  replaces?: string | undefined;
  /**
   * When the event starts, epoch ms: in the future and within 24 h of submission (ignored for
   * release). Absent: it starts when it runs (on submission, or on a second operator's approval).
   * A held command whose start has passed cannot be approved any more.
   */
  startAt?: number | undefined;
}

/** How a command names its resources. */
export type CommandResources = readonly string[] | 'fleet' | { readonly pool: string };

/** Whether a command addresses a pool. */
export const isPoolAddress = (r: CommandResources): r is { readonly pool: string } => typeof r === 'object' && r !== null && !Array.isArray(r);

/** The longest a command may be scheduled ahead. */
export const MAX_START_AHEAD_MS = 24 * 3_600_000;

/**
 * `executed`: sent to the fleet in full; `short`: sent, but the fleet could not cover all of it
 * (the record's `shortfallW` says how much is missing) — never reported as executed; `failed`:
 * approved but not sent (the record's `failure` says why).
 */
export const COMMAND_STATES = ['held', 'approved', 'rejected', 'expired', 'executed', 'short', 'failed'] as const;
export type CommandState = typeof COMMAND_STATES[number];

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
  /** A failed command: why it could not be sent to the fleet (nothing of it runs). */
  failure?: string | undefined;
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
  if (isPoolAddress(c.resources)) {
    const pool = (c.resources as { pool?: unknown }).pool;
    if (typeof pool !== 'string' || pool.length === 0 || pool.length > 128 || Object.keys(c.resources).length !== 1) throw new InvalidInputError(explain('command.badPool'));
  } else if (c.resources !== 'fleet') {
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

/** Checks a command's start against the time now: in the future, at most 24 h ahead (release has none). */
export function validateStart(c: ManualCommand, now: number): void {
  if (c.startAt === undefined || c.action === 'release') return;
  if (typeof c.startAt !== 'number' || !Number.isInteger(c.startAt)) throw new InvalidInputError(explain('command.badStart'));
  if (c.startAt <= now) throw new InvalidInputError(explain('command.startInPast', { start: formatJst(c.startAt), now: formatJst(now) }));
  if (c.startAt > now + MAX_START_AHEAD_MS) throw new InvalidInputError(explain('command.startTooFar', { start: formatJst(c.startAt), latest: formatJst(now + MAX_START_AHEAD_MS) }));
}

/**
 * A start as the operator API takes it: epoch ms, or an ISO 8601 date-time with an offset
 * (`2026-12-07T17:00:00+09:00`, `…Z`); anything else is refused with command.badStart.
 */
export function parseStart(v: number | string): number {
  if (typeof v === 'number') return v;
  const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(v);
  const t = ok ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new InvalidInputError(explain('command.badStart'));
  return t;
}

/** How many resources a command addresses: `fleetSize` for 'fleet', the pool's size for a pool. */
export function addressedCount(c: ManualCommand, fleetSize: number, poolSize: (pool: string) => number): number {
  if (c.resources === 'fleet') return fleetSize;
  if (isPoolAddress(c.resources)) return poolSize(c.resources.pool);
  return c.resources.length;
}

/**
 * Why `c` needs a second operator under `cfg`, or undefined when one is enough.
 * Fleet-wide commands always need one; otherwise the power or the share of the fleet decides.
 * `release` (end manual control) never does.
 * @example secondOperatorReason({ action: 'reduce', powerW: 80_000, resources: ['a'], durationMs: 60_000, reason: 'test' }, cfg, 100)
 *   // 'total power 80.0 kW exceeds the single-operator limit of 50.0 kW'
 */
export function secondOperatorReason(c: ManualCommand, cfg: ApprovalsConfig, fleetSize: number, poolSize: (pool: string) => number = () => fleetSize): string | undefined {
  // Release returns devices to their owners' normal operation: the safe direction, never held.
  if (c.action === 'release') return undefined;
  if (c.resources === 'fleet') return 'the command addresses the whole fleet';
  if (c.powerW > cfg.maxSingleOperatorW) {
    return `total power ${(c.powerW / 1000).toFixed(1)} kW exceeds the single-operator limit of ${(cfg.maxSingleOperatorW / 1000).toFixed(1)} kW`;
  }
  // A pool counts as its resources do: its share of the fleet, as a list of ids would.
  const n = addressedCount(c, fleetSize, poolSize);
  const share = fleetSize > 0 ? (n / fleetSize) * 100 : 100;
  if (share > cfg.maxSingleOperatorFleetPercent) {
    const what = isPoolAddress(c.resources) ? `pool ${c.resources.pool}: ${n} resources` : `${n} resources`;
    return `${what} are ${share.toFixed(1)} % of the fleet, above the single-operator limit of ${cfg.maxSingleOperatorFleetPercent} %`;
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
    /** How many resources of the fleet a pool has: a command naming a pool with none is refused. */
    private readonly poolSize: (pool: string) => number = () => 0,
  ) {}

  /** Submits a command; throws NotAuthorizedError for a non-operator, InvalidInputError for a malformed command. */
  submit(op: OperatorIdentity, command: ManualCommand): SubmitOutcome {
    try {
      requireOperator(op, 'manual command');
      validateManualCommand(command);
      validateStart(command, this.clock.now());
      if (isPoolAddress(command.resources)) {
        const pool = command.resources.pool;
        if (this.poolSize(pool) === 0) throw new InvalidInputError(explain('command.unknownPool', { pool: `"${pool.slice(0, 64)}"` }));
      } else if (command.resources !== 'fleet') {
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
    const because = secondOperatorReason(command, this.cfg, this.fleetSize(), this.poolSize);
    const record: CommandRecord = {
      id: randomUUID(),
      command: { ...command, resources: copyResources(command.resources) },
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
    // A held command whose start has passed cannot run as asked: refused with its start, and out of the book's held list.
    const held = this.records.get(id);
    if (held && held.state === 'held' && isOperator(op) && this.startPassed(held)) {
      this.expireOld();
      const err = new PolicyRefusedError(explain('command.startPassed', { id, start: formatJst(held.command.startAt!) }));
      this.audit.append({ actor: actor(op), action: 'operator.command.approve', target: id, outcome: 'refused', reason: err.message });
      throw err;
    }
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

  /**
   * Marks an approved command that could not be sent to the fleet (its start passed meanwhile, the
   * gateways could not be instructed…): `failed` with the reason, never left `approved`.
   */
  markFailed(id: string, reason: string): void {
    const rec = this.records.get(id);
    if (!rec || rec.state !== 'approved') return;
    rec.state = 'failed';
    rec.failure = reason.slice(0, 500);
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

  private startPassed(rec: CommandRecord): boolean {
    return rec.command.startAt !== undefined && rec.command.action !== 'release' && this.clock.now() >= rec.command.startAt;
  }

  private expireOld(): void {
    const now = this.clock.now();
    for (const rec of this.records.values()) {
      if (rec.state !== 'held') continue;
      const late = this.startPassed(rec);
      if (now >= rec.expiresAt || late) {
        rec.state = 'expired';
        rec.decidedAt = now;
        const reason = late ? `its start ${formatJst(rec.command.startAt!)} passed before a second operator approved it` : 'no second operator approved in time';
        this.audit.append({ actor: { kind: 'system', id: 'aggregator' }, action: 'operator.command.expire', target: rec.id, outcome: 'failure', reason, details: summary(rec) });
      }
    }
  }
}

/** Two identities are the same operator when the id or the certificate matches. */
function sameOperator(a: OperatorIdentity, b: OperatorIdentity): boolean {
  return a.id === b.id || (a.fingerprint !== undefined && a.fingerprint === b.fingerprint);
}

function copyResources(r: CommandResources): CommandResources {
  if (r === 'fleet') return 'fleet';
  if (isPoolAddress(r)) return { pool: r.pool };
  return [...r];
}

function summary(r: CommandRecord): Record<string, unknown> {
  const c = r.command;
  return {
    action: c.action,
    powerW: c.powerW,
    resources: c.resources === 'fleet' ? 'fleet' : isPoolAddress(c.resources) ? `pool ${c.resources.pool}` : c.resources.length,
    durationMs: c.durationMs,
    ...(c.startAt !== undefined ? { startAt: c.startAt } : {}),
    reason: c.reason,
    submittedBy: r.submittedBy.id,
    ...(r.approvedBy ? { approvedBy: r.approvedBy.id } : {}),
  };
}
