/**
 * Compliance in a running role, attached through the composition hook (roles know nothing of it):
 *
 * - the checks run on a schedule (schedule.ts: at start, then every `intervalMs` on the role's
 *   clock), each run kept in the compliance store (history);
 * - GET /api/compliance/status on the role's operator endpoint: the document `erab compliance
 *   status --json` prints (status-document.ts), from the latest kept run while it is younger than
 *   `maxAgeMs`, else from a new run (requests meanwhile share the run under way): a console polling
 *   the page does not run the checks each time;
 * - GET /api/compliance/history?control=ID[&limit=N]: that control's status over the kept runs,
 *   newest first.
 *
 * @example
 * startAggregator(cfg, { ...deps, attach: [...deps.attach, complianceApiAttachment(profile, { intervalMs: 3_600_000 })] });
 */
import { inBoth } from '../core/errors.js';
import type { Attach } from '../roles/common/composition.js';
import { BadQueryError, type OperatorRoute } from '../roles/common/operator-routes.js';
import { checkParams } from '../secops/api/query.js';
import type { ComplianceProfile } from './profile.js';
import { ComplianceSchedule } from './schedule.js';
import { ComplianceService } from './service.js';
import { statusDocument } from './status-document.js';

export const DEFAULT_STATUS_MAX_AGE_MS = 5 * 60_000;
/** How often a running role assesses itself unless told otherwise. */
export const DEFAULT_SCHEDULE_INTERVAL_MS = 60 * 60_000;
const MAX_HISTORY = 1000;

export interface ComplianceAttachOptions {
  maxAgeMs?: number;
  /** Scheduled runs every this many ms (at least 1000); 0 = on request only. Default one hour. */
  intervalMs?: number;
  /** Told of every scheduled run (its id and time). */
  onRun?: (run: { runId: number; at: number }) => void;
}

export function complianceApiAttachment(profile: ComplianceProfile, o: ComplianceAttachOptions = {}): Attach {
  const maxAgeMs = o.maxAgeMs ?? DEFAULT_STATUS_MAX_AGE_MS;
  const intervalMs = o.intervalMs ?? DEFAULT_SCHEDULE_INTERVAL_MS;
  return async (ctx) => {
    // Decisions and runs are audited in the role's log (one writer per log).
    const service = await ComplianceService.open(profile, { audit: ctx.audit, now: () => ctx.clock.now() });
    let last: { at: number; doc: ReturnType<typeof statusDocument> } | undefined;
    // One run at a time: a request and the schedule arriving together share it.
    let running: Promise<Awaited<ReturnType<ComplianceService['run']>>> | undefined;
    const runNow = (): Promise<Awaited<ReturnType<ComplianceService['run']>>> => {
      running ??= service.run().then((run) => {
        last = { at: ctx.clock.now(), doc: statusDocument(run) };
        return run;
      }).finally(() => { running = undefined; });
      return running;
    };
    const current = async (): Promise<ReturnType<typeof statusDocument>> => {
      if (last && ctx.clock.now() - last.at < maxAgeMs) return last.doc;
      return statusDocument(await runNow());
    };
    const schedule = intervalMs > 0
      ? new ComplianceSchedule({ run: runNow }, {
        clock: ctx.clock, intervalMs,
        onRun: (run) => {
          o.onRun?.({ runId: run.runId, at: run.assessment.at });
          const failing = run.summary.kankoku.filter((c) => c.status === 'not-satisfied' || c.status === 'needs-decision').length;
          ctx.log?.('compliance run kept', { runId: run.runId, failingKankoku: failing, changes: run.summary.changes.length });
        },
        onError: (err) => ctx.log?.('compliance run failed', { err: err.message }, 'warn'),
      })
      : undefined;
    schedule?.start();
    const status: OperatorRoute = {
      method: 'GET', path: '/api/compliance/status', action: 'compliance.api.status',
      handle({ query }) {
        checkParams(query, []);
        return current();
      },
    };
    const history: OperatorRoute = {
      method: 'GET', path: '/api/compliance/history', action: 'compliance.api.history',
      async handle({ query }) {
        checkParams(query, ['control', 'limit']);
        const control = query.get('control');
        if (!control || !/^[a-z0-9][a-z0-9.-]{0,63}$/.test(control)) throw new BadQueryError('control', inBoth('rule.controlId'));
        const limitText = query.get('limit') ?? '20';
        if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_HISTORY) throw new BadQueryError('limit', inBoth('rule.integerRange', { min: 1, max: MAX_HISTORY }));
        const runs = await service.history(control, Number(limitText));
        return { control, runs: runs.map((r) => ({ runId: r.runId, at: new Date(r.at).toISOString(), status: r.status })) };
      },
    };
    return {
      routes: [status, history],
      async stop() {
        await schedule?.stop();
        await running?.catch(() => {});
        await service.close();
      },
    };
  };
}
