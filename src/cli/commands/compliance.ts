/**
 * `erab compliance ...`: the operator's compliance with the ERAB cybersecurity guideline Ver1.1 and
 * the private-facility (自家用電気工作物) guideline, computed from the live configuration and state.
 *
 *   erab compliance status   [--profile F] [--role R]... [--kubun A|B|C] [--json]   run the checks, keep the run, print the summary
 *   erab compliance decide   --control ID --kind K --approver NAME --review YYYY-MM-DD [--date YYYY-MM-DD]
 *                            [--reference DOC] [--reason TEXT] [--compensating TEXT]
 *   erab compliance report   --out DIR      ssp.json, assessment-results.json, report.html (+ .sig when signing is configured)
 *   erab compliance controls [--json]       the applicable controls, their level, checks or "needs decision"
 *   erab compliance watch    [--interval-min N]   run the checks now and every N minutes (default 60) until stopped
 *
 * `--demo DIR` assesses a participant of an `erab demo` work folder (AGG-A unless --participant).
 * The profile (JSON, see src/compliance/profile.ts) names the roles, the 区分, the role config
 * files, the store and the signing key; --role/--kubun/--participant/--*-config/--store override it.
 * Exit codes: status 0 when every 勧告 item holds, 1 otherwise; 2 usage error.
 */
import { Command, Option } from 'commander';
import { mkdirSync } from 'node:fs';
import { OPERATOR_ROLES } from '../../compliance/catalog.js';
import { checksFor, needsDecision } from '../../compliance/mapping.js';
import { applicableControls, complianceProfileSchema, loadComplianceProfile, type ComplianceProfile } from '../../compliance/profile.js';
import { withComplianceService } from '../../compliance/service.js';
import { demoProfile } from '../../compliance/demo-profile.js';
import { statusDocument } from '../../compliance/status-document.js';
import { formatSummary, isFailing } from '../../compliance/summary.js';
import { DECISION_KINDS, type DecisionKind } from '../../compliance/store.js';
import { becauseOf, explain } from '../../core/errors.js';
import { issueRule } from '../../core/zod-rules.js';
import { keyedLine } from '../failure.js';
import { UsageError } from '../usage.js';
import { numberFrom } from '../option-values.js';
import { untilStopped } from '../until-stopped.js';
import { systemClock } from '../../core/clock.js';
import { ComplianceSchedule } from '../../compliance/schedule.js';

interface ProfileOpts {
  profile?: string; demo?: string; role?: string[]; kubun?: 'A' | 'B' | 'C'; participant?: string; store?: string;
  aggregatorConfig?: string; tsoConfig?: string; retailerConfig?: string; gatewayConfig?: string;
}

function profileOptions(cmd: Command): Command {
  return cmd
    .option('--profile <file>', 'compliance profile (JSON)')
    .option('--demo <dir>', 'assess a participant of an `erab demo` work folder (default AGG-A; --participant to choose)')
    .addOption(new Option('--role <role>', 'a role this operator runs (repeatable)').choices([...OPERATOR_ROLES]).argParser((v: string, prev?: string[]) => [...(prev ?? []), v]))
    .addOption(new Option('--kubun <k>', '自家用電気工作物 区分').choices(['A', 'B', 'C']))
    .option('--participant <id>', 'participant id')
    .option('--store <url>', 'compliance store (SQLite file or postgres:// URL)')
    .option('--aggregator-config <file>').option('--tso-config <file>').option('--retailer-config <file>').option('--gateway-config <file>');
}

export function resolveProfile(o: ProfileOpts): ComplianceProfile {
  if (o.demo) {
    if (o.profile) throw new UsageError(explain('cli.compliance.profileOrDemo'));
    const p = demoProfile(o.demo, { ...(o.participant ? { participant: o.participant } : {}), ...(o.kubun ? { kubun: o.kubun } : {}) });
    return o.store ? { ...p, store: o.store } : p;
  }
  const base = o.profile ? loadComplianceProfile(o.profile) : undefined;
  const input = {
    ...(base ?? {}),
    participant: o.participant ? { ...(base?.participant ?? {}), id: o.participant } : base?.participant,
    roles: o.role ?? base?.roles,
    ...(o.kubun ? { kubun: o.kubun } : {}),
    ...(o.store ? { store: o.store } : {}),
    configs: {
      ...(base?.configs ?? {}),
      ...(o.aggregatorConfig ? { aggregator: o.aggregatorConfig } : {}), ...(o.tsoConfig ? { tso: o.tsoConfig } : {}),
      ...(o.retailerConfig ? { retailer: o.retailerConfig } : {}), ...(o.gatewayConfig ? { gateway: o.gatewayConfig } : {}),
    },
  };
  // reportInput: a wrong type is named in Japanese too (zod-rules.ts issueRule).
  const r = complianceProfileSchema.safeParse(input, { reportInput: true });
  if (!r.success) {
    const problems = r.error.issues.map((i) => ({ path: i.path.join('.') || '(profile)', rule: issueRule(i) }));
    throw new UsageError(explain('cli.compliance.profileInvalid', {
      problems: problems.map((p) => `${p.path}: ${p.rule.en}`).join('; '), problemsJa: problems.map((p) => `${p.path}: ${p.rule.ja}`).join('、'),
    }));
  }
  return r.data;
}

function parseDate(v: string, what: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) throw new UsageError(explain('cli.compliance.badDate', { what, value: v }));
  return Date.parse(`${v}T00:00:00Z`);
}

export function register(program: Command): void {
  const group = program.command('compliance').description('compliance with the ERAB and private-facility guidelines, from the live system');

  profileOptions(group.command('status').description('run the checks, keep the results, print counts per level and the 勧告 items (failing first)'))
    .option('--json', 'print JSON')
    .action(async (o: ProfileOpts & { json?: boolean }) => {
      const profile = resolveProfile(o);
      await withComplianceService(profile, async (s) => {
        const run = await s.run();
        const { summary } = run;
        if (o.json) process.stdout.write(JSON.stringify(statusDocument(run), null, 2) + '\n');
        else process.stdout.write(formatSummary(summary) + '\n');
        if (summary.kankoku.some((c) => isFailing(c.status))) process.exitCode = 1;
      });
    });

  profileOptions(group.command('decide').description('record a decision for a control (audited)'))
    .requiredOption('--control <id>', 'control id, e.g. jk-2-3 or erab-4.1.2-3')
    .addOption(new Option('--kind <kind>', 'the decision').choices([...DECISION_KINDS]).makeOptionMandatory())
    .requiredOption('--approver <name>', 'who approved it')
    .requiredOption('--review <date>', 'review date YYYY-MM-DD')
    .option('--date <date>', 'decision date YYYY-MM-DD (default today)')
    .option('--reference <doc>', 'procedure document (implemented-by-process)')
    .option('--reason <text>', 'why not adopted (required for not-adopted)')
    .option('--compensating <text>', 'the compensating control')
    .action(async (o: ProfileOpts & { control: string; kind: DecisionKind; approver: string; review: string; date?: string; reference?: string; reason?: string; compensating?: string }) => {
      const profile = resolveProfile(o);
      const decidedAt = o.date ? parseDate(o.date, '--date') : Date.parse(new Date().toISOString().slice(0, 10) + 'T00:00:00Z');
      await withComplianceService(profile, async (s) => {
        const id = await s.decide({ controlId: o.control, kind: o.kind, approver: o.approver, reference: o.reference, reason: o.reason, compensating: o.compensating, decidedAt, reviewAt: parseDate(o.review, '--review') });
        process.stdout.write(`decision ${id} recorded for ${o.control}\n`);
      });
    });

  profileOptions(group.command('report').description('write the OSCAL SSP and assessment results and the signed bilingual HTML report'))
    .requiredOption('--out <dir>', 'output directory')
    .action(async (o: ProfileOpts & { out: string }) => {
      const profile = resolveProfile(o);
      mkdirSync(o.out, { recursive: true });
      await withComplianceService(profile, async (s) => {
        const r = await s.run();
        for (const f of await s.writeOutputs(o.out, r)) process.stdout.write(`${f}\n`);
      });
    });

  profileOptions(group.command('watch').description('run the checks now and on a schedule, keeping every run (history)'))
    .option('--interval-min <n>', 'minutes between runs', numberFrom('--interval-min', 1), 60)
    .action(async (o: ProfileOpts & { intervalMin: number }) => {
      const profile = resolveProfile(o);
      await withComplianceService(profile, async (s) => {
        const schedule = new ComplianceSchedule(s, {
          clock: systemClock, intervalMs: o.intervalMin * 60_000,
          onRun: (r) => {
            const failing = r.summary.kankoku.filter((c) => isFailing(c.status)).length;
            process.stdout.write(`${new Date(r.summary.at).toISOString()} run ${r.runId}: ${failing} 勧告 item(s) failing; ${r.summary.changes.length} change(s)${r.summary.changes.map((c) => `\n  ${c.label}: ${c.from} → ${c.to}`).join('')}\n`);
          },
          onError: (err) => process.stderr.write(`${keyedLine('cli.compliance.runFailed', becauseOf(err))}\n`),
        });
        schedule.start();
        await untilStopped();
        await schedule.stop();
      });
    });

  profileOptions(group.command('controls').description('list the applicable controls with their level and how each is judged'))
    .option('--json', 'print JSON')
    .action((o: ProfileOpts & { json?: boolean }) => {
      const profile = resolveProfile(o);
      const rows = applicableControls(profile).map((c) => ({ id: c.id, label: c.label, level: c.appliedLevel, title: c.title, checks: checksFor(c.id), needsDecision: needsDecision(c.id) }));
      if (o.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else for (const r of rows) process.stdout.write(`${r.id.padEnd(26)} ${r.level.padEnd(4)} ${r.label} ${r.title} — ${r.checks.length ? r.checks.join(', ') : ''}${r.needsDecision ? `${r.checks.length ? '; ' : ''}needs decision` : ''}\n`);
    });
}
