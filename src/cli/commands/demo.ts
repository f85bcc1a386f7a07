/**
 * `erab demo`: the whole ERAB system on this machine in one command (see
 * src/roles/demo/scenario.ts), with a live view on a terminal and a JSON summary for CI.
 *
 *   erab demo [--dir ./erab-demo] [--sites 20] [--speed 60] [--headless] [--json <file>] [--keep]
 *             [--net 77] [--tso-port 0] [--sites-per-host 250] [--timeout <s>] [--console]
 *
 * Exit code 0 when every event was delivered within tolerance, every security refusal happened
 * and every audit log verifies; 1 otherwise (or when it cannot run); 2 on bad arguments.
 *
 * Internal sub-commands the demo starts as its participants' processes:
 *   erab demo host --config <file> [--name N]                       many sites' devices or gateways
 *   erab demo participant tso|retailer|aggregator --config <file>   a role on the shared clock
 */
import { Command } from 'commander';
import { integerIn, numberIn } from '../option-values.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { clockFromEnv } from '../../core/clock.js';
import { InvalidInputError, explain } from '../../core/errors.js';
import { onStopSignal } from '../../core/stop-signals.js';
import { createLogger, logFnOf } from '../../core/logger.js';
import { reportReady, reportStatus, runUntilStopped } from '../../roles/common/lifecycle.js';
import { supervisorStatus } from './aggregator-run.js';
import { superviseTso } from './tso.js';
import { ConsoleChannel } from '../../secops/detect/channels.js';
import { detectionAttachment, type DetectionAttachment } from '../../secops/detect/attach.js';
import { detectMigrations } from '../../secops/detect/alerts.js';
import { DEFAULT_DETECTION } from '../../roles/common/detection-config.js';
import { aggregatorSecops, alertsForStatus, vtnSecops, type RoleSecops } from '../role-secops.js';
import { DEFAULT_SITES_PER_HOST } from '../../roles/demo/layout.js';
import { startDeviceHost, startGatewayHost, type RunningHost } from '../../roles/demo/host.js';
import { startAggregatorParticipant, startVtnParticipant } from '../../roles/demo/participant.js';
import { runDemo, type DemoConsole } from '../../roles/demo/scenario.js';
import { t } from '../i18n.js';
import { demoIncidentDesk } from './demo-incidents.js';
import type { HostConfig } from '../../roles/demo/setup.js';
import { readConfigFile } from '../../core/config.js';
import { demoCompliance, formatDemoCompliance, type DemoCompliance } from '../../compliance/demo-status.js';

interface DemoFlags {
  dir: string;
  sites: number;
  speed: number;
  headless?: boolean;
  json?: string;
  keep?: boolean;
  net: number;
  tsoPort: number;
  sitesPerHost: number;
  timeout?: number;
  console?: boolean;
}

/** A hosted gateway's detection reads its audit log this often (many gateways share the process). */
const GATEWAY_DETECTION_POLL_MS = 1000;

/** How to open the demo's console, in the operator's language. */
function consoleLines(c: DemoConsole): string {
  return `\n${t('demo.console', { url: c.url })}\n  ${t('demo.consoleP12', { file: c.p12File })}\n  ${t('demo.consolePassphrase', { passphrase: c.passphrase })}\n  ${t('demo.consoleCa', { file: c.caFile })}\n  ${t('demo.consoleStop')}\n\n`;
}

export function register(program: Command): void {
  const demo = program.command('demo')
    .description('run the whole ERAB system on this machine: TSO, retailer, aggregators, gateways and devices over real TLS and UDP, with a scenario and a verdict')
    .option('--dir <folder>', 'work folder for certificates, configurations, databases and audit logs', './erab-demo')
    .option('--sites <n>', 'number of homes (each a gateway with a battery, PV, an EV charger, a water heater and a smart meter)', integerIn('--sites', 2, 5000), 20)
    .option('--speed <x>', 'simulated time runs x times faster (60: a 30-minute block plays in 30 s)', numberIn('--speed', 1, 600), 60)
    .option('--headless', 'plain log lines instead of the live view (CI)')
    .option('--json <file>', 'write the summary as JSON to this file')
    .option('--keep', 'keep the work folder afterwards (default: removed once the audit logs are verified)')
    .option('--net <n>', 'ECHONET Lite nodes bind UDP 3610 on 127.<n>.x.y', integerIn('--net', 1, 254), 77)
    .option('--tso-port <port>', 'TCP port of the TSO\'s VTN (0: any free port)', integerIn('--tso-port', 0, 65535), 0)
    .option('--sites-per-host <n>', 'sites per device-host and gateway-host process', integerIn('--sites-per-host', 1, 5000), DEFAULT_SITES_PER_HOST)
    .option('--timeout <s>', 'give up after this many seconds', numberIn('--timeout', 10, 86_400))
    .option('--console', 'open the aggregator AGG-A\'s operator console: print its URL and a PKCS#12 file to import into the browser, and keep running after the scenario until Ctrl-C')
    .action(async (o: DemoFlags) => {
      const controller = new AbortController();
      const stopListening = onStopSignal(() => controller.abort());
      try {
        let compliance: DemoCompliance | undefined;
        const demoSummary = await runDemo({
          dir: o.dir, sites: o.sites, speed: o.speed, net: o.net, tsoPort: o.tsoPort, sitesPerHost: o.sitesPerHost,
          headless: Boolean(o.headless), keep: Boolean(o.keep), signal: controller.signal,
          ...(o.timeout !== undefined ? { timeoutS: o.timeout } : {}),
          ...(o.console ? { console: { opened: (c: DemoConsole) => process.stdout.write(consoleLines(c)) } } : {}),
          summaryWords: (key, vars) => t(`demoSummary.${key}`, vars ?? {}),
          // Compliance of one participant (AGG-A), read before the work folder may be removed.
          afterStop: async (dir) => { compliance = await demoCompliance(dir); process.stdout.write(`\n${formatDemoCompliance(compliance)}\n`); },
          // Incidents from the alerts, in the work folder's incident desk (erab incident --db <dir>/incidents.db).
          incidents: demoIncidentDesk(resolve(o.dir)),
        });
        const summary = { ...demoSummary, compliance };
        if (o.json) {
          const file = resolve(o.json);
          try {
            mkdirSync(dirname(file), { recursive: true });
            writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
          } catch (err) {
            throw new InvalidInputError(explain('cli.demo.summaryNotWritten', { file, why: (err as NodeJS.ErrnoException).code ?? String(err) }));
          }
        }
        process.exitCode = summary.ok ? 0 : 1;
      } finally {
        stopListening();
      }
    });

  demo.command('host')
    .description('(started by erab demo) run many sites\' device nodes or gateways in one process')
    .requiredOption('--config <file>', 'host configuration written by erab demo')
    .option('--name <name>', 'participant name reported to the supervisor')
    .action(async (o: { config: string; name?: string }) => {
      const cfg = readConfigFile(o.config) as HostConfig;
      if (cfg.kind !== 'devices' && cfg.kind !== 'gateways') throw new InvalidInputError(explain('cli.demo.badHostKind', { file: o.config }));
      const name = o.name ?? cfg.name;
      const clock = clockFromEnv();
      // Each gateway runs detection over its own audit log (a forged command it refused is an alert).
      const detections: { id: string; d: DetectionAttachment }[] = [];
      const host: RunningHost = cfg.kind === 'devices' ? await startDeviceHost(cfg, clock) : await startGatewayHost(cfg, clock, {
        compose: (config, log) => {
          const d = detectionAttachment({ ...DEFAULT_DETECTION, pollMs: GATEWAY_DETECTION_POLL_MS }, { channels: [new ConsoleChannel(process.stderr)] });
          detections.push({ id: config.gatewayId, d });
          return { extraMigrations: detectMigrations, attach: [(ctx) => d.attach({ ...ctx, auditLog: log })] };
        },
      });
      const status = () => ({ ...host.status(), ...(detections.length ? { alerts: detections.flatMap(({ id, d }) => alertsForStatus(d, 10, id)) } : {}) });
      const timer = setInterval(() => reportStatus(name, status()), 500);
      timer.unref();
      const stopped = runUntilStopped(async () => {
        clearInterval(timer);
        await host.close();
      }, (command, args) => (command === 'status' ? status() : host.command(command, args)));
      reportReady(name, { running: host.status().running });
      await stopped;
    });

  demo.command('participant')
    .description('(started by erab demo) run the TSO, the retailer or an aggregator on the demo\'s shared clock')
    .argument('<kind>', 'tso | retailer | aggregator')
    .requiredOption('--config <file>', 'configuration file written by erab demo')
    .requiredOption('--name <name>', 'participant name reported to the supervisor')
    .action(async (kind: string, o: { config: string; name: string }) => {
      const clock = clockFromEnv();
      const logger = createLogger(o.name);
      if (kind === 'tso' || kind === 'retailer') {
        // Detection attaches here, as in `erab tso run`: the demo summary reads its alerts from the status.
        let secops: RoleSecops | undefined;
        const tso = await startVtnParticipant(o.config, clock, (cfg) => (secops = vtnSecops(cfg.detection, { channels: [new ConsoleChannel(process.stderr)] })).deps);
        if (tso.config.kind !== kind) {
          await tso.stop();
          throw new InvalidInputError(explain('cli.demo.otherKind', { file: o.config, found: tso.config.kind, expected: kind }));
        }
        const d = secops!.detection;
        await superviseTso(o.name, tso, logger, () => alertsForStatus(d));
      } else if (kind === 'aggregator') {
        let secops: RoleSecops | undefined;
        const agg = await startAggregatorParticipant(o.config, clock, logFnOf(logger), (cfg) => (secops = aggregatorSecops(cfg, { clock, logger })).deps);
        const d = secops!.detection;
        const status = () => ({ ...supervisorStatus(agg), alerts: alertsForStatus(d) });
        const timer = setInterval(() => reportStatus(o.name, status()), 500);
        timer.unref();
        const stopped = runUntilStopped(async () => {
          clearInterval(timer);
          await agg.stop();
          logger.flush();
        }, (command) => {
          if (command === 'status') return status();
          throw new InvalidInputError(explain('cli.unknownCommand', { command }));
        });
        reportReady(o.name, { id: agg.id, downstreamPort: agg.downstreamPort });
        await stopped;
      } else {
        throw new InvalidInputError(explain('cli.demo.badParticipant', { kind }));
      }
    });
}
