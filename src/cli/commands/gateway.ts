/**
 * `erab gateway ...`: the EMS gateway (HEMS/BEMS controller) between an aggregator (R4,
 * OpenADR 2.0b VEN in pull mode) and the site's ECHONET Lite devices (R5).
 *
 *   erab gateway run     --config <file> [--name N] [--speed X]   run until SIGINT/SIGTERM
 *   erab gateway check   --config <file>                          validate and print the configuration
 *   erab gateway devices --config <file> [--json]                 the device allow-list and its states
 *   erab gateway software-rollback --config <file>                 current release back to the previous one
 *   erab gateway repin   --gateway <operator URL> --device ID --address A --reason R [--revision N]
 *                        --cert C --key K --ca CA [--crl F]       confirm that an admitted device moved (R5 pin)
 *
 * The configuration is one JSON file (src/roles/gateway/gateway.ts, gatewayConfigSchema);
 * ERAB_* environment variables override it (e.g. ERAB_ECHONET__POLL_MS=5000). An invalid file
 * stops with a message naming the field and the rule (exit 1). `--speed` accelerates time for
 * demonstrations only.
 */
import { pendingRelease, rollbackRelease } from '../../roles/gateway/software-release.js';
import { Command } from 'commander';
import { integerIn, numberIn } from '../option-values.js';
import { existsSync } from 'node:fs';
import { InvalidInputError, becauseOf, explain } from '../../core/errors.js';
import { loadConfig } from '../../core/config.js';
import { t } from '../i18n.js';
import { keyedLine, refusalReason } from '../failure.js';
import { createLogger } from '../../core/logger.js';
import { syslogTarget } from '../../security/audit/config.js';
import { reportReady, reportStatus, runUntilStopped } from '../../roles/common/lifecycle.js';
import { SqlAdmissionStore, gatewayMigrations } from '../../roles/gateway/persistence.js';
import { Gateway, acceleratedClock, gatewayConfigSchema, type GatewayConfig } from '../../roles/gateway/gateway.js';
import { openStore } from '../../store/store.js';
import { TlsMaterial } from '../../security/tls.js';
import { operatorCall } from '../../roles/common/operator-client.js';
import { UsageError } from '../usage.js';

function load(file: string): GatewayConfig {
  return loadConfig(gatewayConfigSchema, { file });
}

/** Exit code of `gateway run` after a new software release became current: restart me. */
export const SOFTWARE_RESTART_EXIT_CODE = 75;

export function register(program: Command): void {
  const gw = program.command('gateway').description('EMS gateway: OpenADR VEN upstream (R4), ECHONET Lite controller downstream (R5), safe local control');

  gw.command('run')
    .description('run the gateway until SIGINT/SIGTERM: register with the aggregator, control admitted devices, report telemetry')
    .requiredOption('--config <file>', 'JSON configuration file (ERAB_* environment variables override it)')
    .option('--name <name>', 'participant name reported to a supervisor', 'gateway')
    .option('--speed <x>', 'run time X times faster (demonstrations only)', numberIn('--speed', 1, 10_000), 1)
    .option('--status-interval <ms>', 'status report interval to a supervisor', integerIn('--status-interval', 200, 3_600_000), 2000)
    .option('--operator-port <port>', 'serve /healthz, /readyz and /metrics on 127.0.0.1:<port> (mutual TLS, operator certificates); config key operator', integerIn('--operator-port', 0, 65535))
    .option('--syslog <host:port>', 'stream security events to a syslog collector over mutual TLS (RFC 5425); config key syslog')
    .action(async (opts: { config: string; name: string; speed: number; statusInterval: number; operatorPort?: number; syslog?: string }) => {
      const loaded = load(opts.config);
      const cfg: GatewayConfig = {
        ...loaded,
        ...(opts.operatorPort !== undefined ? { operator: { host: loaded.operator?.host ?? '127.0.0.1', port: opts.operatorPort, operators: loaded.operator?.operators ?? [] } } : {}),
        ...(opts.syslog ? { syslog: syslogTarget(opts.syslog, loaded.syslog ?? {}) } : {}),
      };
      const logger = createLogger('gateway');
      // A signed software package made a new release current: stop cleanly and exit with 75
      // (EX_TEMPFAIL), so the launcher (systemd Restart=on-failure) starts <softwareDir>/current.
      let restartInto: string | undefined;
      const gateway = await Gateway.start(cfg, {
        clock: acceleratedClock(opts.speed), logger,
        onSoftwareSwitched: (version) => {
          restartInto = version;
          process.kill(process.pid, 'SIGTERM');
        },
      });
      const status = await gateway.status();
      logger.info({ gatewayId: cfg.gatewayId, devices: status.devices.length, vtn: cfg.aggregator.vtnUrl }, 'gateway running');
      const timer = setInterval(() => {
        void gateway.status().then((s) => reportStatus(opts.name, s as unknown as Record<string, unknown>)).catch(() => {});
      }, opts.statusInterval);
      timer.unref();
      const stopped = runUntilStopped(async () => {
        clearInterval(timer);
        await gateway.close();
        logger.flush();
        if (restartInto !== undefined) process.exit(SOFTWARE_RESTART_EXIT_CODE);
      }, async (command) => {
        if (command === 'status') return gateway.status();
        throw new InvalidInputError(explain('cli.unknownCommand', { command }));
      });
      reportReady(opts.name, { gatewayId: cfg.gatewayId, devices: status.devices.length });
      await stopped;
    });

  gw.command('software-rollback')
    .description('point the gateway\'s software back at the previous release (updates.softwareDir), e.g. when the new one failed to start (a launcher\'s ExecStopPost)')
    .requiredOption('--config <file>', 'JSON configuration file')
    .action((opts: { config: string }) => {
      const dir = load(opts.config).updates.softwareDir;
      if (!dir) throw new InvalidInputError(explain('cli.gateway.noSoftwareDir', { file: opts.config }));
      const pending = pendingRelease(dir);
      const now = rollbackRelease(dir);
      process.stdout.write(`${pending ? `release ${pending.version} left; ` : ''}current is now ${now ?? 'the launcher\'s own installation (no earlier release)'}\n`);
    });

  gw.command('check')
    .description('validate the configuration and print it with every default filled in')
    .requiredOption('--config <file>', 'JSON configuration file')
    .action((opts: { config: string }) => {
      process.stdout.write(`${JSON.stringify(load(opts.config), null, 2)}\n`);
    });

  gw.command('devices')
    .description('list the devices the gateway knows, with their admission state (from its database)')
    .requiredOption('--config <file>', 'JSON configuration file')
    .option('--json', 'print JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const cfg = load(opts.config);
      if (!/^postgres(ql)?:\/\//.test(cfg.database) && !existsSync(cfg.database)) {
        throw new InvalidInputError(explain('cli.gateway.noDatabase', { database: cfg.database, file: opts.config }));
      }
      const store = await openStore({ url: cfg.database, migrations: gatewayMigrations, ignoreUnknownMigrations: true });
      try {
        const records = (await SqlAdmissionStore.open(store)).load();
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
          return;
        }
        if (records.length === 0) {
          process.stdout.write('no devices known yet\n');
          return;
        }
        for (const r of records) {
          const id = r.identity;
          process.stdout.write(`${r.deviceId}  ${r.class.padEnd(12)} ${r.state.padEnd(11)} rev ${r.revision}  ${r.address}  maker ${id.makerCode} product ${id.productCode ?? '-'} serial ${id.serialNumber ?? '-'}${r.reason ? `  (${r.reason})` : ''}\n`);
        }
      } finally {
        await store.close();
      }
    });

  gw.command('repin')
    .description('confirm that an admitted device moved: its R5 pin becomes the new address (over the gateway operator listener, mutual TLS, audited as your decision)')
    .requiredOption('--gateway <url>', 'the gateway operator endpoint, e.g. https://127.0.0.1:9464')
    .requiredOption('--device <id>', 'the device id (erab gateway devices)')
    .requiredOption('--address <ip|url>', 'the address the device now answers from (or the https:// base URL of its Web API node)')
    .requiredOption('--reason <text>', 'why (recorded in the gateway audit log)')
    .option('--revision <n>', 'the record revision you decided on (erab gateway devices); refused when it changed since')
    .requiredOption('--cert <file>', 'your operator certificate').requiredOption('--key <file>', 'its key').requiredOption('--ca <file>', 'the CA').option('--crl <file>', 'the CRL')
    .action(async (o: { gateway: string; device: string; address: string; reason: string; revision?: string; cert: string; key: string; ca: string; crl?: string }) => {
      const revision = o.revision === undefined ? undefined : Number(o.revision);
      if (revision !== undefined && (!Number.isSafeInteger(revision) || revision < 1)) throw new UsageError(explain('cli.gateway.badRevision', { value: o.revision!.slice(0, 20) }));
      if (!o.reason.trim()) throw new UsageError(explain('cli.gateway.noReason'));
      const material = await TlsMaterial.fromFiles({ certFile: o.cert, keyFile: o.key, caFile: o.ca, ...(o.crl ? { crlFile: o.crl } : {}) });
      let r: { status: number; json: unknown };
      try {
        r = await operatorCall(material, o.gateway, 'POST', `/devices/${encodeURIComponent(o.device)}/repin`, { address: o.address, reason: o.reason.trim(), ...(revision !== undefined ? { revision } : {}) }, 'gateway');
      } catch (err) {
        if (err instanceof InvalidInputError) throw err;
        // The operator listener closes the handshake of a client whose certificate is not an operator's.
        process.stderr.write(`${keyedLine('cli.gateway.repinClosed', { gateway: o.gateway.slice(0, 200), ...becauseOf(err) })}\n`);
        process.exitCode = 1;
        return;
      }
      const body = (r.json ?? {}) as { error?: string; from?: string; address?: string; revision?: number; identified?: boolean };
      if (r.status !== 200) {
        process.stderr.write(`${keyedLine('cli.gateway.repinRefused', { status: r.status, reason: refusalReason(body, keyedLine('cli.gateway.noReasonGiven')) })}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${t(body.identified ? 'gateway.repinned' : 'gateway.repinnedNotYet', { device: o.device, from: body.from ?? '?', to: body.address ?? o.address, revision: body.revision ?? '?' })}\n`);
    });
}
