/**
 * A running role records its own software in its own inventory store (issue 13: each role
 * reports its erab version, Node.js version and npm dependency tree): attached through the
 * composition hook (roles never import secops), it reads the installation the process runs from
 * (src/core/software.ts) once the role's store is open. The aggregator, the TSO and the retailer
 * use it; a gateway uploads its software to its aggregator instead (src/roles/common/software-report.ts).
 */
import { describeError } from '../../core/errors.js';
import { installRoot, readInstalledSoftware, type SoftwareReport } from '../../core/software.js';
import type { Attach } from '../../roles/common/composition.js';
import type { SecopsTables } from '../tables.js';
import { recordSoftware } from './software.js';

/**
 * The attachment; `read` defaults to this process's installation.
 * @example startAggregator(cfg, { extraMigrations: secopsMigrations, attach: [ownSoftwareAttachment()] })
 */
export function ownSoftwareAttachment(read: (role: string) => Promise<SoftwareReport> = (role) => readInstalledSoftware(installRoot(), role)): Attach {
  return async (ctx) => {
    const actor = { kind: 'system', id: 'secops.inventory' } as const;
    try {
      const report = await read(ctx.role);
      const r = await recordSoftware(ctx.store.db.withTables<SecopsTables>(), report, { clock: ctx.clock });
      ctx.audit.append({ actor, action: 'vuln.inventory.software', target: ctx.role, outcome: 'success', details: { erab: report.erab.version, node: report.node, packages: report.packages.length, ...r } });
    } catch (err) {
      // The role runs without it; the inventory says nothing about its software until the next start.
      ctx.audit.append({ actor, action: 'vuln.inventory.software', target: ctx.role, outcome: 'failure', reason: describeError(err).slice(0, 500) });
      ctx.log?.('own software not recorded in the inventory', { error: describeError(err) }, 'warn');
    }
  };
}
