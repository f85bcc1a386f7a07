/**
 * Compliance history in the store: runs, the result of each check with its evidence, the status of
 * each control per run, and decisions. Own migration list; same queries on SQLite and PostgreSQL.
 * The latest run and a control's current decision are found by index, never by a scan.
 */
import type { Kysely } from 'kysely';
import type { Migration } from '../store/migrations.js';
import { addIdColumn, columnType, toJsonText, toNumber } from '../store/schema.js';
import type { CheckStatus, Evidence } from './registry.js';

export type DecisionKind = 'implemented-by-process' | 'not-adopted' | 'compensating-control';
export const DECISION_KINDS: readonly DecisionKind[] = ['implemented-by-process', 'not-adopted', 'compensating-control'];

export type ComplianceTables = {
  compliance_run: { id: number; at: number; participant: string; profile: string };
  compliance_check_result: { run_id: number; check_id: string; status: string; evidence: string };
  compliance_control_status: { run_id: number; control_id: string; level: string; status: string };
  compliance_report: { run_id: number; at: number; sha256: string; signed: number };
  compliance_decision: {
    id: number; control_id: string; kind: string; reference: string | null; reason: string | null; compensating: string | null;
    approver: string; decided_at: number; review_at: number; recorded_at: number; superseded: number;
  };
};

export const complianceMigrations: readonly Migration[] = [{
  name: '0001_compliance',
  async up(db, ctx) {
    await db.schema.createTable('compliance_run').$call((t) => addIdColumn(t, 'id', ctx.dialect))
      .addColumn('at', columnType.epochMillis, (c) => c.notNull())
      .addColumn('participant', 'text', (c) => c.notNull())
      .addColumn('profile', columnType.json, (c) => c.notNull()).execute();
    await db.schema.createTable('compliance_check_result')
      .addColumn('run_id', 'bigint', (c) => c.notNull())
      .addColumn('check_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('evidence', columnType.json, (c) => c.notNull())
      .addPrimaryKeyConstraint('compliance_check_result_pk', ['run_id', 'check_id']).execute();
    await db.schema.createIndex('compliance_check_result_check').on('compliance_check_result').columns(['check_id', 'run_id']).execute();
    await db.schema.createTable('compliance_control_status')
      .addColumn('run_id', 'bigint', (c) => c.notNull())
      .addColumn('control_id', 'text', (c) => c.notNull())
      .addColumn('level', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('compliance_control_status_pk', ['run_id', 'control_id']).execute();
    await db.schema.createIndex('compliance_control_status_control').on('compliance_control_status').columns(['control_id', 'run_id']).execute();
    await db.schema.createTable('compliance_decision').$call((t) => addIdColumn(t, 'id', ctx.dialect))
      .addColumn('control_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('reference', 'text')
      .addColumn('reason', 'text')
      .addColumn('compensating', 'text')
      .addColumn('approver', 'text', (c) => c.notNull())
      .addColumn('decided_at', columnType.epochMillis, (c) => c.notNull())
      .addColumn('review_at', columnType.epochMillis, (c) => c.notNull())
      .addColumn('recorded_at', columnType.epochMillis, (c) => c.notNull())
      .addColumn('superseded', columnType.bool, (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.createTable('compliance_report')
      .addColumn('run_id', 'bigint', (c) => c.primaryKey())
      .addColumn('at', columnType.epochMillis, (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('signed', columnType.bool, (c) => c.notNull()).execute();
    await db.schema.createIndex('compliance_decision_current').on('compliance_decision').columns(['control_id', 'superseded']).execute();
  },
}];

export interface Decision {
  id: number; controlId: string; kind: DecisionKind; reference: string | undefined; reason: string | undefined; compensating: string | undefined;
  approver: string; decidedAt: number; reviewAt: number; recordedAt: number;
}
export interface StoredCheckResult { checkId: string; status: CheckStatus; evidence: Evidence[] }
export interface StoredRun { id: number; at: number; controls: Map<string, { level: string; status: string }>; checks: Map<string, StoredCheckResult> }

type Db = Kysely<ComplianceTables>;

export async function saveRun(db: Db, run: { at: number; participant: string; profile: unknown; checks: StoredCheckResult[]; controls: { controlId: string; level: string; status: string }[] }): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const r = await tx.insertInto('compliance_run').values({ at: run.at, participant: run.participant, profile: toJsonText(run.profile) } as never).returning('id').executeTakeFirstOrThrow();
    const id = toNumber(r.id, 'compliance_run.id');
    for (let i = 0; i < run.checks.length; i += 200) {
      const part = run.checks.slice(i, i + 200);
      if (part.length) await tx.insertInto('compliance_check_result').values(part.map((c) => ({ run_id: id, check_id: c.checkId, status: c.status, evidence: toJsonText(c.evidence) }))).execute();
    }
    for (let i = 0; i < run.controls.length; i += 200) {
      const part = run.controls.slice(i, i + 200);
      if (part.length) await tx.insertInto('compliance_control_status').values(part.map((c) => ({ run_id: id, control_id: c.controlId, level: c.level, status: c.status }))).execute();
    }
    return id;
  });
}

/** The latest run before `beforeId` (or the latest of all, or exactly run `id`), with its results. */
export async function loadRun(db: Db, which: { beforeId?: number; id?: number } = {}): Promise<StoredRun | undefined> {
  let q = db.selectFrom('compliance_run').select(['id', 'at']).orderBy('id', 'desc').limit(1);
  if (which.beforeId !== undefined) q = q.where('id', '<', which.beforeId);
  if (which.id !== undefined) q = q.where('id', '=', which.id);
  const run = await q.executeTakeFirst();
  if (!run) return undefined;
  const id = toNumber(run.id, 'compliance_run.id');
  const controls = new Map<string, { level: string; status: string }>();
  for (const c of await db.selectFrom('compliance_control_status').select(['control_id', 'level', 'status']).where('run_id', '=', id).execute()) controls.set(c.control_id, { level: c.level, status: c.status });
  const checks = new Map<string, StoredCheckResult>();
  for (const c of await db.selectFrom('compliance_check_result').select(['check_id', 'status', 'evidence']).where('run_id', '=', id).execute()) {
    checks.set(c.check_id, { checkId: c.check_id, status: c.status as CheckStatus, evidence: JSON.parse(c.evidence) as Evidence[] });
  }
  return { id, at: toNumber(run.at, 'compliance_run.at'), controls, checks };
}

export async function recordDecision(db: Db, d: Omit<Decision, 'id'>): Promise<number> {
  return db.transaction().execute(async (tx) => {
    await tx.updateTable('compliance_decision').set({ superseded: 1 }).where('control_id', '=', d.controlId).where('superseded', '=', 0).execute();
    const r = await tx.insertInto('compliance_decision').values({
      control_id: d.controlId, kind: d.kind, reference: d.reference ?? null, reason: d.reason ?? null, compensating: d.compensating ?? null,
      approver: d.approver, decided_at: d.decidedAt, review_at: d.reviewAt, recorded_at: d.recordedAt, superseded: 0,
    } as never).returning('id').executeTakeFirstOrThrow();
    return toNumber(r.id, 'compliance_decision.id');
  });
}

/** Current (not superseded) decisions, by control. */
export async function currentDecisions(db: Db): Promise<Map<string, Decision>> {
  const rows = await db.selectFrom('compliance_decision').selectAll().where('superseded', '=', 0).execute();
  const out = new Map<string, Decision>();
  for (const r of rows) {
    out.set(r.control_id, {
      id: toNumber(r.id), controlId: r.control_id, kind: r.kind as DecisionKind, reference: r.reference ?? undefined, reason: r.reason ?? undefined,
      compensating: r.compensating ?? undefined, approver: r.approver, decidedAt: toNumber(r.decided_at), reviewAt: toNumber(r.review_at), recordedAt: toNumber(r.recorded_at),
    });
  }
  return out;
}

/** A control's status over the last `limit` runs, newest first (by index on control_id, run_id). */
export async function controlHistory(db: Db, controlId: string, limit = 20): Promise<{ runId: number; at: number; status: string }[]> {
  const rows = await db.selectFrom('compliance_control_status as s').innerJoin('compliance_run as r', 'r.id', 's.run_id')
    .select(['s.run_id', 'r.at', 's.status']).where('s.control_id', '=', controlId).orderBy('s.run_id', 'desc').limit(limit).execute();
  return rows.map((r) => ({ runId: toNumber(r.run_id), at: toNumber(r.at), status: r.status }));
}

/** Notes that run `runId` was reported (the next report shows what changed since this one). */
export async function recordReport(db: Db, r: { runId: number; at: number; sha256: string; signed: boolean }): Promise<void> {
  await db.insertInto('compliance_report').values({ run_id: r.runId, at: r.at, sha256: r.sha256, signed: r.signed ? 1 : 0 }).execute();
}

/** The run of the latest report before run `beforeRunId`, if any. */
export async function lastReportedRun(db: Db, beforeRunId: number): Promise<number | undefined> {
  const row = await db.selectFrom('compliance_report').select('run_id').where('run_id', '<', beforeRunId).orderBy('run_id', 'desc').limit(1).executeTakeFirst();
  return row ? toNumber(row.run_id) : undefined;
}
