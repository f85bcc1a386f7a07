/**
 * `erab tso ...` and `erab retailer ...`: the TSO simple dispatch system and the retailer's DR
 * system (the same VTN code). `run` starts the VTN and its operator API; `dispatch`, `status` and
 * `cancel` talk to a running one's API with an operator certificate.
 */
import type { Command } from 'commander';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { clockFromEnv } from '../../core/clock.js';
import { InvalidInputError, becauseOf, explain, inBoth } from '../../core/errors.js';
import { refusalReason } from '../failure.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { syslogTarget } from '../../security/audit/config.js';
import { reportReady, reportStatus, runUntilStopped } from '../../roles/common/lifecycle.js';
import { loadTsoConfig } from '../../roles/tso/config.js';
import { startTso, type DispatchInput, type RunningTso, type TsoStatus } from '../../roles/tso/tso.js';
import { UsageError } from '../usage.js';
import { t } from '../i18n.js';
import { formatDispatch, formatTsoStatus } from '../tso-view.js';
import type { DispatchView } from '../../roles/tso/delivery.js';
import { ConsoleChannel } from '../../secops/detect/channels.js';
import { alertsForStatus, vtnSecops } from '../role-secops.js';

interface ApiOpts { api: string; cert: string; key: string; ca: string; json?: boolean }

function readFile(path: string, what: 'operatorCert' | 'operatorKey' | 'caCert'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const named = inBoth(`cli.tso.file.${what}`);
    throw new InvalidInputError(explain('cli.tso.fileUnreadable', { what: named.en, whatJa: named.ja, file: path, why: (err as NodeJS.ErrnoException).code ?? String(err) }));
  }
}

/** One JSON request to the operator API over mutual TLS. */
function callApi(o: ApiOpts, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = new URL(path, o.api);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method,
      cert: readFile(o.cert, 'operatorCert'),
      key: readFile(o.key, 'operatorKey'),
      ca: readFile(o.ca, 'caCert'),
      headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      timeout: 30_000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => {
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = { error: text }; }
        if ((res.statusCode ?? 500) >= 400) reject(new InvalidInputError(explain('cli.tso.refused', { method, path: url.pathname, status: res.statusCode ?? 500, reason: refusalReason(json, '') })));
        else resolve(json);
      });
    });
    req.on('timeout', () => req.destroy(new InvalidInputError(explain('cli.tso.noAnswer', { url: o.api }))));
    req.on('error', (err) => reject(new InvalidInputError(explain('cli.tso.unreachable', { url: o.api, ...becauseOf(err) }))));
    req.end(payload);
  });
}

function apiOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--api <url>', 'operator API base URL, e.g. https://127.0.0.1:9443')
    .requiredOption('--cert <file>', 'operator certificate (erab pki issue --role operator)')
    .requiredOption('--key <file>', 'operator private key')
    .requiredOption('--ca <file>', 'CA certificate')
    .option('--json', 'print the API\'s JSON (for scripts) instead of tables');
}

function registerVtnRole(program: Command, kind: 'tso' | 'retailer'): void {
  const title = kind === 'tso' ? 'TSO simple dispatch system (簡易指令システム)' : 'retailer demand-response system';
  const group = program.command(kind).description(`the ${title}: an OpenADR 2.0b VTN for contracted aggregators`);

  group.command('run')
    .description(`run the ${title} until SIGINT/SIGTERM`)
    .requiredOption('--config <file>', 'JSON configuration file (ERAB_* environment variables override it)')
    .option('--name <name>', 'participant name reported to a supervisor', kind)
    .option('--syslog <host:port>', 'stream security events to a syslog collector over mutual TLS (RFC 5425); config key syslog')
    .action(async (opts: { config: string; name: string; syslog?: string }) => {
      const loaded = loadTsoConfig(opts.config);
      const cfg = opts.syslog ? { ...loaded, syslog: syslogTarget(opts.syslog, loaded.syslog ?? {}) } : loaded;
      if (cfg.kind !== kind) throw new UsageError(explain('cli.tso.otherKind', { file: opts.config, kind: cfg.kind }));
      const logger = createLogger(kind);
      // Detection over the VTN's audit log attaches from here (the role does not know secops).
      const secops = vtnSecops(cfg.detection, { channels: [new ConsoleChannel(process.stderr)] });
      const tso = await startTso(cfg, { ...secops.deps, clock: clockFromEnv(), logger });
      const status = tso.status();
      logger.info({ url: status.url, api: status.apiUrl, contracted: cfg.contractedAggregators.map((a) => a.id) }, `${kind} running`);
      await superviseTso(opts.name, tso, logger, () => alertsForStatus(secops.detection));
    });

  apiOptions(group.command('dispatch'))
    .description(kind === 'tso' ? 'issue a dispatch for a balancing product (30-minute blocks)' : 'issue a demand-response request (下げDR or 上げDR)')
    .requiredOption('--product <id>', kind === 'tso' ? 'secondary2 | tertiary1 | tertiary2' : 'dr')
    .requiredOption('--direction <dir>', 'reduce | increase')
    .requiredOption('--kw <kW...>', 'quantity in kW: one value, or one per block')
    .requiredOption('--start <iso>', 'first block start, ISO 8601 (on :00 or :30)')
    .option('--periods <n>', 'number of 30-minute blocks', '1')
    .option('--to <id...>', 'aggregator participant ids (default: every registered contracted aggregator)')
    .action(async (o: ApiOpts & { product: string; direction: string; kw: string[]; start: string; periods: string; to?: string[] }) => {
      const kws = o.kw.map((k) => {
        const n = Number(k);
        if (!Number.isFinite(n)) throw new UsageError(explain('cli.tso.badKw', { value: k }));
        return n;
      });
      const periods = Number(o.periods);
      if (!Number.isInteger(periods)) throw new UsageError(explain('cli.tso.badPeriods', { value: o.periods }));
      const result = await callApi(o, 'POST', '/api/dispatches', {
        product: o.product, direction: o.direction, quantityKw: kws.length === 1 ? kws[0] : kws, start: o.start, periods, ...(o.to ? { to: o.to } : {}),
      });
      process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : formatDispatch(result as DispatchView));
    });

  apiOptions(group.command('status'))
    .description('show registered aggregators, dispatches (requested vs delivered) and refusals')
    .action(async (o: ApiOpts) => {
      const status = await callApi(o, 'GET', '/api/status');
      process.stdout.write(o.json ? `${JSON.stringify(status, null, 2)}\n` : formatTsoStatus(status as TsoStatus));
    });

  apiOptions(group.command('cancel'))
    .description('cancel a dispatch')
    .argument('<eventId>', 'the dispatch (OpenADR event id)')
    .action(async (eventId: string, o: ApiOpts) => {
      const result = await callApi(o, 'DELETE', `/api/dispatches/${encodeURIComponent(eventId)}`);
      process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${t('tso.cancelled', { id: eventId })}\n`);
    });
}

/**
 * Runs a started TSO or retailer until stopped: status to a supervisor, its commands (dispatch,
 * status, cancel), and ready reported once it listens for the stop.
 */
export async function superviseTso(name: string, tso: RunningTso, logger: Logger, alerts?: () => unknown[]): Promise<void> {
  const status = (): Record<string, unknown> => ({ ...tso.status(), ...(alerts ? { alerts: alerts() } : {}) });
  const timer = setInterval(() => reportStatus(name, status()), tso.config.statusIntervalMs);
  timer.unref();
  const stopped = runUntilStopped(async () => {
    clearInterval(timer);
    await tso.stop();
    logger.flush();
  }, async (command, args) => {
    if (command === 'dispatch') return tso.dispatch(args as unknown as DispatchInput);
    if (command === 'status') return status();
    if (command === 'cancel') return tso.cancel(String(args.eventId));
    throw new InvalidInputError(explain('cli.unknownCommand', { command }));
  });
  const now = tso.status();
  reportReady(name, { id: tso.config.id, url: now.url, apiUrl: now.apiUrl, port: tso.vtn.port });
  await stopped;
}

export function register(program: Command): void {
  registerVtnRole(program, 'tso');
  registerVtnRole(program, 'retailer');
}
