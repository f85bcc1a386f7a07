/**
 * `erab aggregator run --config <file>`: runs the resource aggregator until SIGINT/SIGTERM (or
 * its supervisor says stop), on the system clock or the demo's shared simulated time (ERAB_SIM_*). Under `erab demo` it reports ready with its downstream port and
 * streams its status (events with their recent target-vs-delivered samples) for the live view.
 */
import type { Command } from 'commander';
import { clockFromEnv } from '../../core/clock.js';
import { createLogger, logFnOf } from '../../core/logger.js';
import { syslogTarget } from '../../security/audit/config.js';
import { reportReady, reportStatus, runUntilStopped, underSupervisor } from '../../roles/common/lifecycle.js';
import { startAggregator, type RunningAggregator } from '../../roles/aggregator/runtime/aggregator.js';
import { holdLease, type HeldLease } from '../../roles/common/standby.js';
import { onStopSignal } from '../../core/stop-signals.js';
import { loadAggregatorConfig, type AggregatorConfig } from '../../roles/aggregator/runtime/config.js';
import { startR4Worker } from '../../roles/aggregator/runtime/r4-workers.js';
import { isWorker } from '../../roles/common/workers.js';
import { aggregatorSecops, alertsForStatus } from '../role-secops.js';
import { ConsoleChannel } from '../../secops/detect/channels.js';
import { loadNotifyConfig, notifyConfigFile, secopsCommand } from './aggregator-secops.js';
import { CONSOLE_CSP, consolePage } from '../../web/console-page.js';
import { consoleRefusalPage } from '../../web/refusal-page.js';
import { aggregatorCommand } from './aggregator.js';
import { registerConsoleCommands } from './aggregator-console.js';
import { loadComplianceProfile } from '../../compliance/profile.js';
import { OptionValueError } from '../option-values.js';

/** Samples per event sent with each status message (the live view draws the latest ones). */
const SAMPLES_IN_STATUS = 120;

/** The status a supervisor receives: the aggregator's status plus recent samples per event. */
export function supervisorStatus(agg: RunningAggregator): Record<string, unknown> {
  const s = agg.status();
  return {
    ...s,
    events: s.events.map((e) => ({
      ...e,
      samples: agg.eventSeries(e.key).slice(-SAMPLES_IN_STATUS).map((x) => ({ t: x.t, targetW: x.targetW, deliveredW: x.deliveredW })),
    })),
  };
}

/** Serves R4 in a worker process until the primary stops it (SIGTERM) or goes away; a start-up failure exits 1. */
async function runR4Worker(cfg: AggregatorConfig, logger: ReturnType<typeof createLogger>): Promise<void> {
  let worker: Awaited<ReturnType<typeof startR4Worker>>;
  try {
    worker = await startR4Worker(cfg, clockFromEnv());
  } catch (err) {
    process.stderr.write(`erab aggregator R4 worker ${process.pid}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  await runUntilStopped(async () => {
    await worker.close();
    logger.flush();
  });
}

export function register(program: Command): void {
  registerConsoleCommands(aggregatorCommand(program));
  aggregatorCommand(program)
    .command('run')
    .description('run the aggregator: downstream VTN for gateways, an upstream VEN per party, closed-loop dispatch')
    .requiredOption('--config <file>', 'JSON configuration file (ERAB_* environment variables override it)')
    .option('--name <name>', 'participant name reported to a supervisor', 'aggregator')
    .option('--syslog <host:port>', 'stream security events to a syslog collector over mutual TLS (RFC 5425); config key syslog')
    .option('--notify-config <file>', 'notification channels (SMTP, webhook TLS, retry) for notices to users; default $ERAB_NOTIFY_CONFIG or notify.json next to --config')
    .option('--compliance-profile <file>', 'assess compliance on a schedule from this profile (src/compliance/profile.ts), keep every run, serve /api/compliance/*; default $ERAB_COMPLIANCE_PROFILE')
    .option('--compliance-interval-min <n>', 'minutes between scheduled compliance runs', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 1 || n > 7 * 24 * 60) throw new OptionValueError('cli.aggregator.complianceInterval', { max: 7 * 24 * 60, value: v });
      return n;
    }, 60)
    .action(async (opts: { config: string; name: string; syslog?: string; notifyConfig?: string; complianceProfile?: string; complianceIntervalMin: number }) => {
      const loaded = loadAggregatorConfig(opts.config);
      const complianceFile = opts.complianceProfile ?? (process.env.ERAB_COMPLIANCE_PROFILE || undefined);
      // Read before the role starts: a broken profile stops the start-up naming the file, not an hour later.
      // Not from the environment: ERAB_STORE__URL and the like are the aggregator's, not the profile's.
      const compliance = complianceFile !== undefined ? loadComplianceProfile(complianceFile, {}) : undefined;
      const cfg = opts.syslog ? { ...loaded, syslog: syslogTarget(opts.syslog, loaded.syslog ?? {}) } : loaded;
      const logger = createLogger('aggregator');
      if (isWorker()) {
        // One of the R4 VTN workers the aggregator forked (downstream.workers > 1, docs/scale.md).
        await runR4Worker(cfg, logger);
        return;
      }
      let lease: HeldLease | undefined;
      let agg: RunningAggregator | undefined;
      if (cfg.standby?.enabled) {
        // Standby: wait (stoppable) until this process holds the lease; only then listen and dispatch.
        let disposeWait: () => void = () => {};
        const stopWaiting = new Promise<void>((resolve) => { disposeWait = onStopSignal(() => resolve()); });
        lease = await holdLease({
          storeUrl: cfg.store.url, name: `aggregator:${cfg.id}`, ttlMs: cfg.standby.leaseTtlMs,
          onWaiting: (h) => logger.info({ holder: h?.holder, epoch: h?.epoch }, 'standby: another aggregator process holds the lease; waiting'),
          onLost: (reason) => {
            // Two active processes would dispatch twice: stop serving now, whatever is in flight.
            logger.error({ reason }, 'lease lost: this aggregator stops serving');
            logger.flush();
            const exit = setTimeout(() => process.exit(75), 3000);
            void (agg?.stop() ?? Promise.resolve()).finally(() => { clearTimeout(exit); process.exit(75); });
          },
          onError: (err) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'lease renewal failed'),
        }, stopWaiting);
        disposeWait();
        if (!lease) {
          logger.info('stopped while on standby');
          logger.flush();
          return;
        }
        logger.warn({ holder: lease.holder, epoch: lease.epoch }, 'lease acquired: this aggregator process is now active');
      }
      // Under `erab demo --speed X` every participant shares one simulated time (ERAB_SIM_*).
      const clock = clockFromEnv();
      // Detection (alerts to the log's stream, mail and webhooks when configured), vulnerability
      // findings, the gateway notice board and the notifier attach from here: the aggregator does
      // not know secops (issues 13, 14).
      const notifyFile = notifyConfigFile(opts.notifyConfig, opts.config);
      const secops = aggregatorSecops(cfg, {
        clock, logger, channels: [new ConsoleChannel(process.stderr)],
        ...(notifyFile !== undefined ? { notify: loadNotifyConfig(notifyFile) } : {}),
        ...(compliance ? { compliance, complianceSchedule: { intervalMs: opts.complianceIntervalMin * 60_000 } } : {}),
      });
      agg = await startAggregator(cfg, {
        ...secops.deps,
        clock,
        log: logFnOf(logger),
        logger,
        // The operator endpoint (when configured) serves the console page at `/`.
        consolePage: { html: consolePage(cfg.id), csp: CONSOLE_CSP, refused: consoleRefusalPage },
      });
      logger.info({ downstreamPort: agg.downstreamPort, resources: agg.fleet.size, upstream: cfg.upstream.map((u) => u.name) }, 'aggregator running');
      const running = agg;
      // The status goes to a supervisor only: without one, building it (the whole fleet's) is waste,
      // 14 % of a core at 100,000 devices every second.
      const timer = underSupervisor() ? setInterval(() => reportStatus(opts.name, { ...supervisorStatus(running), alerts: alertsForStatus(secops.detection) }), cfg.statusIntervalMs) : undefined;
      timer?.unref();
      const stopped = runUntilStopped(async () => {
        clearInterval(timer);
        await running.stop();
        await lease?.release();
        logger.flush();
      }, (command, args) => (command === 'status' ? supervisorStatus(running) : secopsCommand(secops.attached?.(), command, args)));
      reportReady(opts.name, { id: cfg.id, downstreamPort: running.downstreamPort, ...(running.consolePort !== undefined ? { consolePort: running.consolePort } : {}), ...(lease ? { leaseEpoch: lease.epoch } : {}) });
      await stopped;
    });
}
