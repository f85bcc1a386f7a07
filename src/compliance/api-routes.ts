/**
 * GET /api/compliance/status on a role's operator endpoint: the document `erab compliance status
 * --json` prints (status-document.ts), from a run of the checks kept in the compliance store.
 * A run reads the live system (configurations, stores, certificates), so the route serves the last
 * run while it is younger than `maxAgeMs` and runs again after that (requests meanwhile share the
 * run under way): a console polling the page does not run the checks each time.
 *
 * @example
 * startAggregator(cfg, { ...deps, attach: [...deps.attach, complianceApiAttachment(profile)] });
 */
import type { Attach } from '../roles/common/composition.js';
import type { OperatorRoute } from '../roles/common/operator-routes.js';
import { checkParams } from '../secops/api/query.js';
import type { ComplianceProfile } from './profile.js';
import { ComplianceService } from './service.js';
import { statusDocument } from './status-document.js';

export const DEFAULT_STATUS_MAX_AGE_MS = 5 * 60_000;

export function complianceApiAttachment(profile: ComplianceProfile, o: { maxAgeMs?: number } = {}): Attach {
  const maxAgeMs = o.maxAgeMs ?? DEFAULT_STATUS_MAX_AGE_MS;
  return async (ctx) => {
    // Decisions and runs are audited in the role's log (one writer per log).
    const service = await ComplianceService.open(profile, { audit: ctx.audit, now: () => ctx.clock.now() });
    let last: { at: number; doc: ReturnType<typeof statusDocument> } | undefined;
    let running: Promise<ReturnType<typeof statusDocument>> | undefined;
    const current = (): Promise<ReturnType<typeof statusDocument>> => {
      if (last && ctx.clock.now() - last.at < maxAgeMs) return Promise.resolve(last.doc);
      running ??= service.run().then((run) => {
        last = { at: ctx.clock.now(), doc: statusDocument(run) };
        return last.doc;
      }).finally(() => { running = undefined; });
      return running;
    };
    const route: OperatorRoute = {
      method: 'GET', path: '/api/compliance/status', action: 'compliance.api.status',
      handle({ query }) {
        checkParams(query, []);
        return current();
      },
    };
    return {
      routes: [route],
      async stop() {
        await running?.catch(() => {});
        await service.close();
      },
    };
  };
}
