/**
 * `erab aggregator run --config <file>`: runs the resource aggregator until SIGINT/SIGTERM (or
 * its supervisor says stop), on the system clock or the demo's shared simulated time (ERAB_SIM_*). Under `erab demo` it reports ready with its downstream port and
 * streams its status (events with their recent target-vs-delivered samples) for the live view.
 */
import type { Command } from 'commander';
import { clockFromEnv } from '../../core/clock.js';
import { createLogger } from '../../core/logger.js';
import { reportReady, reportStatus, runUntilStopped } from '../../roles/common/lifecycle.js';
import { startAggregator, type RunningAggregator } from '../../roles/aggregator/runtime/aggregator.js';
import { secopsMigrations, type SecopsTables } from '../../secops/tables.js';
import { InventoryReevaluator } from '../../secops/matching/reevaluate.js';
import type { PortfolioTables } from '../../roles/aggregator/portfolio/tables.js';
import { loadAggregatorConfig } from '../../roles/aggregator/runtime/config.js';
import { CONSOLE_CSP, consolePage } from '../../web/console-page.js';
import { aggregatorCommand } from './aggregator.js';
import { registerConsoleCommands } from './aggregator-console.js';

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

export function register(program: Command): void {
  registerConsoleCommands(aggregatorCommand(program));
  aggregatorCommand(program)
    .command('run')
    .description('run the aggregator: downstream VTN for gateways, an upstream VEN per party, closed-loop dispatch')
    .requiredOption('--config <file>', 'JSON configuration file (ERAB_* environment variables override it)')
    .option('--name <name>', 'participant name reported to a supervisor', 'aggregator')
    .action(async (opts: { config: string; name: string }) => {
      const cfg = loadAggregatorConfig(opts.config);
      const logger = createLogger('aggregator');
      // Under `erab demo --speed X` every participant shares one simulated time (ERAB_SIM_*).
      const clock = clockFromEnv();
      const agg = await startAggregator(cfg, {
        clock,
        log: (msg, fields) => logger.info(fields ?? {}, msg),
        // The operator endpoint (when configured) serves the console page at `/`.
        consolePage: { html: consolePage(cfg.id), csp: CONSOLE_CSP },
        // `erab vuln` keeps the inventory and findings in the aggregator's store.
        extraMigrations: secopsMigrations,
        // A gateway's new inventory (firmware updated, device added) re-evaluates vulnerability findings.
        onStore: (store) => {
          const r = new InventoryReevaluator(store.db.withTables<SecopsTables & PortfolioTables>(), {
            clock, onResult: (x) => logger.info({ ...x }, 'vulnerability findings re-evaluated'), onError: (m) => logger.warn({}, m),
          });
          return { inventoryChanged: () => r.changed(), stop: () => r.stop() };
        },
      });
      logger.info({ downstreamPort: agg.downstreamPort, resources: agg.fleet.size, upstream: cfg.upstream.map((u) => u.name) }, 'aggregator running');
      const timer = setInterval(() => reportStatus(opts.name, supervisorStatus(agg)), cfg.statusIntervalMs);
      timer.unref();
      const stopped = runUntilStopped(async () => {
        clearInterval(timer);
        await agg.stop();
        logger.flush();
      });
      reportReady(opts.name, { id: cfg.id, downstreamPort: agg.downstreamPort, ...(agg.consolePort !== undefined ? { consolePort: agg.consolePort } : {}) });
      await stopped;
    });
}
