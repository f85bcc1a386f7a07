/**
 * `erab drill run|list|show`: drills against a running deployment (ERAB §4.1.3 訓練, 自家用GL 10-4).
 *
 *   erab drill run rogue-peer --target ./erab-demo [--participant AGG-A | TSO-TOKYO] [--out drill.json]
 *   erab drill run rogue-peer --target ./agg1 --url https://127.0.0.1:8443      (a participant's folder with config.json)
 *   erab drill run revoked-gateway --target ./erab-demo                           (issues and revokes a DRILL gateway certificate in <target>/pki)
 *   erab drill run flood --target ./erab-demo [--attempts 200]                    (the rogue certificate, all connections at once)
 *   erab drill run forged-command --target ./erab-demo --participant tso           (a DRILL-FORGER certificate of <target>/pki, payloads signed with another key)
 *   erab drill run aggregator-outage --target ./tso --pid 4242 [--outage-s 30]     (pauses `erab aggregator run` 4242; the TSO must see it silent)
 *   erab drill list | show <n>
 *
 * The attack is played only at loopback addresses. The participant's alerts are read from its
 * store; with `--operator`, an incident marked drill is opened from the alert (the playbook's
 * first step). The record goes to the desk's store (table erab_drill) and to `--out` as JSON, and
 * `drill.run` is audited in the desk's log.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { becauseOf, explain } from '../../core/errors.js';
import { IDS } from '../../roles/demo/layout.js';
import { DRILL_SCENARIOS, getDrill, IncidentBook, listDrills, runDrill, saveDrill, type DrillScenario, type DrillTarget } from '../../secops/incidents/index.js';
import { t } from '../i18n.js';
import { UsageError } from '../usage.js';
import { deskOptions, withDesk, type DeskOpts } from './incident-desk.js';
import { passphrase } from './pki.js';

type Json = Record<string, unknown>;

function readJson(file: string): Json {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (e) {
    throw new UsageError(explain('cli.drill.notJson', { file, ...becauseOf(e) }));
  }
}

const storeUrlOf = (cfg: Json, file: string): string => {
  const url = (cfg.store as Json | undefined)?.url;
  if (typeof url !== 'string') throw new UsageError(explain('cli.drill.noStoreUrl', { file }));
  return url;
};

/** The URL most of an aggregator's gateways use (one site may reach it through the demo's relay). */
function aggregatorUrlInDemo(dir: string, id: string): string | undefined {
  const gwDir = join(dir, 'gateways');
  if (!existsSync(gwDir)) return undefined;
  const counts = new Map<string, number>();
  for (const g of readdirSync(gwDir)) {
    const f = join(gwDir, g, 'config.json');
    if (!existsSync(f)) continue;
    const agg = readJson(f).aggregator as Json | undefined;
    if (agg?.id === id && typeof agg.vtnUrl === 'string') counts.set(agg.vtnUrl, (counts.get(agg.vtnUrl) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/** Where the attack goes and where the alerts are read, from a demo folder or a participant's folder. */
export function resolveTarget(dir: string, o: { participant?: string; url?: string; alertsDb?: string; pki?: string; noUrl?: boolean }): DrillTarget {
  if (existsSync(join(dir, '.erab-demo'))) {
    const asked = o.participant ?? IDS.aggregators[0];
    // The TSO and retailer keep their files under tso/ and retailer/ (src/roles/demo/setup.ts).
    const id = asked === 'tso' ? IDS.tso : asked === 'retailer' ? IDS.retailer : asked;
    const isVtnParty = id === IDS.tso || id === IDS.retailer;
    const cfgFile = join(dir, isVtnParty ? (id === IDS.tso ? 'tso' : 'retailer') : id, 'config.json');
    if (!existsSync(cfgFile)) throw new UsageError(explain('cli.drill.noParticipant', { participant: asked, file: cfgFile }));
    const cfg = readJson(cfgFile);
    let url = o.url;
    if (!url && isVtnParty) {
      // The TSO's / retailer's R1 address as its aggregators use it.
      const agg = readJson(join(dir, IDS.aggregators[0], 'config.json'));
      const up = (agg.upstream as Json[] | undefined)?.find((u) => (u.expect as Json | undefined)?.id === id);
      url = typeof up?.vtnUrl === 'string' ? up.vtnUrl : undefined;
    }
    url ??= aggregatorUrlInDemo(dir, id);
    if (!url) throw new UsageError(explain('cli.drill.noListener', { id, dir }));
    return {
      participant: `${isVtnParty ? (id === IDS.tso ? 'tso' : 'retailer') : 'aggregator'}:${id}`, url,
      alertsDb: o.alertsDb ?? storeUrlOf(cfg, cfgFile), pkiDir: o.pki ?? join(dir, 'pki'),
    };
  }
  const cfgFile = join(dir, 'config.json');
  if (!existsSync(cfgFile) && ((!o.url && !o.noUrl) || !o.alertsDb)) throw new UsageError(explain('cli.drill.notATarget', { dir }));
  const cfg = existsSync(cfgFile) ? readJson(cfgFile) : {};
  if (!o.url && !o.noUrl) throw new UsageError(explain('cli.drill.urlNeeded', { dir }));
  return {
    participant: o.participant ?? (typeof cfg.id === 'string' ? cfg.id : dir), url: o.url ?? '',
    alertsDb: o.alertsDb ?? storeUrlOf(cfg, cfgFile), pkiDir: o.pki,
  };
}

interface RunOpts extends DeskOpts {
  target: string; participant?: string; url?: string; alertsDb?: string; pki?: string; passphraseFile?: string;
  attempts: string; wait: string; out?: string; operator?: string; json?: boolean;
  pid?: string; ven?: string; outageS: string;
}

export function register(program: Command): void {
  const drill = program.command('drill').description('Drills: a scripted attack against a running deployment, checked and recorded (訓練)');

  deskOptions(drill.command('run'))
    .description(`Play a scenario (${DRILL_SCENARIOS.join(', ')}) and check detection, alert and playbook`)
    .argument('<scenario>', DRILL_SCENARIOS.join(' | '))
    .requiredOption('--target <dir>', "the demo's work folder, or a participant's folder (config.json)")
    .option('--participant <id>', `who is attacked (demo: default ${IDS.aggregators[0]}; ${IDS.tso} for the TSO's R1)`)
    .option('--url <url>', "the participant's listener, https://127.0.0.1:<port> (default: from the folder)")
    .option('--alerts-db <url>', "the participant's store (default: its config's store.url)")
    .option('--pki <dir>', 'revoked-gateway, forged-command: the deployment\'s PKI folder (demo: <target>/pki)')
    .option('--passphrase-file <file>', 'revoked-gateway, forged-command: CA key passphrase (else $ERAB_CA_PASSPHRASE)')
    .option('--pid <n>', 'aggregator-outage: the `erab aggregator run` process to pause (SIGSTOP, then SIGCONT)')
    .option('--ven <id>', 'aggregator-outage: its VEN id at the target (default: the id in its --config)')
    .option('--outage-s <s>', 'aggregator-outage: how long the aggregator stays paused, seconds', '30')
    .option('--attempts <n>', 'connections the attacker makes', '10')
    .option('--wait <s>', 'seconds to wait for the alert', '30')
    .option('--operator <id>', 'open an incident (marked drill) from the alert, as this operator')
    .option('--out <file>', 'write the drill record here (default drill-<scenario>-<time>.json)')
    .option('--json', 'print the record as JSON')
    .action(async (scenario: string, o: RunOpts) => {
      if (!DRILL_SCENARIOS.includes(scenario as DrillScenario)) throw new UsageError(explain('cli.drill.badScenario', { scenarios: DRILL_SCENARIOS.join(', ') }));
      const attempts = Number(o.attempts);
      const waitS = Number(o.wait);
      if (!Number.isInteger(attempts) || attempts < 1 || attempts > 1000) throw new UsageError(explain('cli.drill.badAttempts', { value: o.attempts }));
      if (!Number.isFinite(waitS) || waitS < 0 || waitS > 3600) throw new UsageError(explain('cli.drill.badWait', { value: o.wait }));
      const outageS = Number(o.outageS);
      if (!Number.isFinite(outageS) || outageS < 0.1 || outageS > 3600) throw new UsageError(explain('cli.drill.badOutage', { value: o.outageS }));
      const outage = scenario === 'aggregator-outage';
      if (outage && !o.pid) throw new UsageError(explain('cli.drill.pidNeeded'));
      if (!outage && o.pid) throw new UsageError(explain('cli.drill.pidOnlyForOutage', { scenario }));
      const target = {
        ...resolveTarget(o.target, { ...o, noUrl: outage }), pkiPassphrase: passphrase(o),
        ...(outage ? { outage: { pid: Number(o.pid), ven: o.ven, outageMs: Math.round(outageS * 1000) } } : {}),
      };
      const { record, drillId } = await withDesk(o, async (store, audit) => {
        const book = new IncidentBook(store, audit);
        const record = await runDrill(scenario as DrillScenario, target, {
          attempts, waitMs: waitS * 1000,
          ...(o.operator ? {
            openIncident: async (alert) => (await book.open({ by: o.operator!, alert, alertSource: target.participant, drill: true, title: `DRILL ${scenario}: ${alert.ruleId} (${alert.key})` })).id,
          } : {}),
        });
        const drillId = await saveDrill(store, record);
        audit.append({
          actor: { kind: o.operator ? 'operator' : 'system', id: o.operator ?? 'erab.drill' }, action: 'drill.run', target: target.participant,
          outcome: record.passed ? 'success' : 'failure', details: { drill: drillId, scenario, url: target.url, checks: record.checks.map((c) => `${c.ok ? 'ok' : 'FAIL'} ${c.name}`) },
        });
        return { record, drillId };
      });
      const out = o.out ?? `drill-${scenario}-${record.startedAt.replace(/[:.]/g, '-')}.json`;
      writeFileSync(out, `${JSON.stringify({ id: drillId, ...record }, null, 2)}\n`);
      if (o.json) process.stdout.write(`${JSON.stringify({ id: drillId, ...record }, null, 2)}\n`);
      else {
        for (const c of record.checks) process.stdout.write(`${t(c.ok ? 'drill.checkOk' : 'drill.checkFailed', { name: c.name, detail: c.detail })}\n`);
        process.stdout.write(`${t('drill.result', { id: drillId, scenario, target: target.participant, verdict: t(record.passed ? 'drill.passed' : 'drill.failed'), file: out })}\n`);
      }
      if (!record.passed) process.exitCode = 1;
    });

  deskOptions(drill.command('list'))
    .description('Drills recorded, newest first')
    .option('--json', 'as JSON')
    .action(async (o: DeskOpts & { json?: boolean }) => {
      const list = await withDesk(o, (store) => listDrills(store));
      if (o.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      else process.stdout.write(list.length === 0 ? `${t('drill.none')}\n` : `${list.map((d) => t('drill.listLine', { id: d.id, at: new Date(d.startedAt).toISOString(), scenario: d.scenario, target: d.target, verdict: t(d.passed ? 'drill.listPassed' : 'drill.listFailed') })).join('\n')}\n`);
    });

  deskOptions(drill.command('show'))
    .description('A drill record (JSON)')
    .argument('<n>')
    .action(async (n: string, o: DeskOpts) => {
      const id = Number(n);
      if (!Number.isSafeInteger(id) || id < 1) throw new UsageError(explain('cli.drill.badNumber', { value: n.slice(0, 40) }));
      const r = await withDesk(o, (store) => getDrill(store, id));
      if (!r) throw new UsageError(explain('cli.drill.noDrill', { id }));
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    });
}
