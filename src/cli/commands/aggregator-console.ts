/**
 * `erab aggregator status|command|approve|reject`: an operator's client for a running
 * aggregator's operator endpoint (src/roles/aggregator/runtime/console.ts), over mutual TLS with
 * the operator's own certificate — the certificate is who acts, for the two-person rule and the
 * audit trail (自家用GL 7-1-2, 8-1-1).
 *
 *   erab aggregator command --url https://127.0.0.1:9443 --cert alice.pem --key alice.key --ca ca.pem \
 *     --action reduce --power-kw 200 --resources fleet --duration-min 60 --reason "evening peak"
 *   erab aggregator approve <id> --url ... --cert bob.pem --key bob.key --ca ca.pem
 *   erab aggregator devices --state pending --url ... --cert alice.pem --key alice.key --ca ca.pem
 *   erab aggregator admit <deviceId> --revision 1 --url ...      (the revision `devices` shows)
 *   erab aggregator reject-device <deviceId> --reason "not ours" --url ...
 */
import * as https from 'node:https';
import type { Command } from 'commander';
import type { CommandRecord } from '../../roles/aggregator/runtime/approvals.js';
import { TlsMaterial, clientTlsOptions } from '../../security/tls.js';
import { UsageError } from '../usage.js';
import { t } from '../i18n.js';
import { formatAdmissionSent, formatCommandOutcome, formatDevices, formatSeries, formatStatus } from '../aggregator-view.js';
import { ADMISSION_STATES } from '../../roles/common/admission-signal.js';

interface ConnOpts {
  url: string;
  cert: string;
  key: string;
  ca: string;
  crl?: string;
  aggregator?: string;
  json?: boolean;
}

function connOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--url <url>', 'the aggregator\'s operator endpoint, e.g. https://127.0.0.1:9443')
    .requiredOption('--cert <file>', 'your operator certificate (PEM)')
    .requiredOption('--key <file>', 'your private key (PEM)')
    .requiredOption('--ca <file>', 'the CA certificate(s) the aggregator chains to')
    .option('--crl <file>', 'the CA\'s CRL, to refuse a revoked aggregator certificate')
    .option('--aggregator <id>', 'refuse the server unless it is this aggregator (participant id)')
    .option('--json', 'print the server\'s JSON (for scripts) instead of tables');
}

async function call(o: ConnOpts, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new UsageError(`--url: "${o.url}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw new UsageError('--url must be https:// (mutual TLS)');
  const material = await TlsMaterial.fromFiles({ certFile: o.cert, keyFile: o.key, caFile: o.ca, ...(o.crl ? { crlFile: o.crl } : {}) });
  const tls = clientTlsOptions(material, 'console', { expect: { role: 'aggregator', ...(o.aggregator ? { id: o.aggregator } : {}) } });
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({
      ...tls, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 443, method, path, agent: false, timeout: 30_000,
      headers: { 'content-type': 'application/json', ...(text ? { 'content-length': Buffer.byteLength(text) } : {}) },
    }, (res) => {
      let out = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        out += c;
        if (out.length > 16 * 1024 * 1024) res.destroy(new Error('reply larger than 16 MiB'));
      });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: out ? JSON.parse(out) as unknown : undefined });
        } catch {
          reject(new Error(`reply from ${o.url}${path} is not JSON (HTTP ${res.statusCode ?? '?'})`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no reply from ${o.url} within 30 s`)));
    req.on('error', reject);
    req.end(text);
  });
}

/** Exit code of a command that ran but could not be covered in full (`short`): not a success. */
export const EXIT_SHORT = 3;

/**
 * Prints the reply: `human` renders it for a person (the default), `--json` prints it as the
 * server sent it; a refusal (4xx/5xx) sets exit code 1 with the server's reason on stderr; a
 * command the fleet could not cover in full (`short`) is printed and says so on stderr, exit code 3.
 */
function print(r: { status: number; json: unknown }, json: boolean | undefined, human: (body: never) => string): void {
  if (r.status >= 400) {
    const err = (r.json as { error?: string } | undefined)?.error ?? `HTTP ${r.status}`;
    process.stderr.write(`erab: ${t('failure.refused', { status: r.status, reason: err })}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(json ? `${JSON.stringify(r.json, null, 2)}\n` : human(r.json as never));
  const rec = (r.json as { record?: { id?: string; state?: string; allocatedW?: number; shortfallW?: number; command?: { powerW?: number } } } | undefined)?.record;
  if (rec?.state === 'short') {
    const kw = (w: number | undefined) => ((w ?? 0) / 1000).toFixed(1);
    process.stderr.write(`erab: command ${rec.id ?? '?'} is short by ${kw(rec.shortfallW)} kW: the addressed resources took ${kw(rec.allocatedW)} of ${kw(rec.command?.powerW)} kW\n`);
    process.exitCode = EXIT_SHORT;
  }
}

function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a number > 0, got "${v}"`);
    return n;
  };
}

/** Attaches the operator commands to `erab aggregator`. */
export function registerConsoleCommands(aggregator: Command): void {
  connOptions(aggregator.command('status').description('show a running aggregator\'s status (events, gateways, refusals)'))
    .option('--series <event>', 'print the target-vs-delivered samples of one event (<party>/<eventID>) instead')
    .action(async (o: ConnOpts & { series?: string }) => {
      print(await call(o, 'GET', o.series ? `/events/${encodeURIComponent(o.series)}/series` : '/status'), o.json, o.series ? formatSeries : formatStatus);
    });

  connOptions(aggregator.command('command').description('issue a manual command as an operator (large or fleet-wide ones wait for a second operator)'))
    .requiredOption('--action <action>', 'reduce | increase | release')
    .option('--power-kw <kW>', 'total power over the addressed resources', positive('--power-kw'))
    .option('--resources <ids>', '"fleet" or a comma-separated list of resource ids', 'fleet')
    .option('--duration-min <min>', 'how long the command holds', positive('--duration-min'))
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (o: ConnOpts & { action: string; powerKw?: number; resources: string; durationMin?: number; reason: string }) => {
      if (o.action !== 'release' && (o.powerKw === undefined || o.durationMin === undefined)) throw new UsageError('--power-kw and --duration-min are required for reduce and increase');
      print(await call(o, 'POST', '/commands', {
        action: o.action,
        powerW: Math.round((o.powerKw ?? 0) * 1000),
        resources: o.resources === 'fleet' ? 'fleet' : o.resources.split(',').map((x) => x.trim()).filter(Boolean),
        durationMs: Math.round((o.durationMin ?? 0) * 60_000),
        reason: o.reason,
      }), o.json, formatCommandOutcome);
    });

  connOptions(aggregator.command('approve').description('approve a held command (you must not be the operator who issued it)').argument('<id>', 'command id'))
    .action(async (id: string, o: ConnOpts) => {
      print(await call(o, 'POST', `/commands/${encodeURIComponent(id)}/approve`), o.json, formatCommandOutcome);
    });

  connOptions(aggregator.command('reject').description('reject or withdraw a held command').argument('<id>', 'command id'))
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (id: string, o: ConnOpts & { reason: string }) => {
      print(await call(o, 'POST', `/commands/${encodeURIComponent(id)}/reject`, { reason: o.reason }), o.json, (b: { record: CommandRecord }) => formatCommandOutcome(b));
    });

  connOptions(aggregator.command('devices').description('list the devices behind the gateways with their admission state and revision'))
    .option('--state <state>', `only devices in this admission state (${ADMISSION_STATES.join(', ')})`)
    .option('--gateway <venId>', 'only devices behind this gateway')
    .option('--search <text>', 'devices whose id or gateway contains this text')
    .option('--limit <n>', 'devices per page (1-500)', positive('--limit'))
    .option('--cursor <cursor>', 'the page after this cursor (printed under a full page)')
    .action(async (o: ConnOpts & { state?: string; gateway?: string; search?: string; limit?: number; cursor?: string }) => {
      if (o.state !== undefined && !(ADMISSION_STATES as readonly string[]).includes(o.state)) throw new UsageError(`--state must be one of ${ADMISSION_STATES.join(', ')}, got "${o.state}"`);
      const q = new URLSearchParams();
      if (o.state) q.set('admission', o.state);
      if (o.gateway) q.set('gateway', o.gateway);
      if (o.search) q.set('q', o.search);
      if (o.limit !== undefined) q.set('limit', String(Math.floor(o.limit)));
      if (o.cursor) q.set('cursor', o.cursor);
      const qs = q.toString();
      print(await call(o, 'GET', `/api/fleet/devices${qs ? `?${qs}` : ''}`), o.json, formatDevices);
    });

  connOptions(aggregator.command('admit').description('admit a pending, quarantined or rejected device: its gateway controls it from then on').argument('<deviceId>', 'device id (as `erab aggregator devices` lists it)'))
    .requiredOption('--revision <n>', 'the admission revision `erab aggregator devices` shows (refused when the record changed since)', positive('--revision'))
    .action(async (id: string, o: ConnOpts & { revision: number }) => {
      if (!Number.isInteger(o.revision)) throw new UsageError(`--revision must be a whole number, got "${o.revision}"`);
      print(await call(o, 'POST', `/api/fleet/devices/${encodeURIComponent(id)}/admit`, { revision: o.revision }), o.json, formatAdmissionSent);
    });

  connOptions(aggregator.command('reject-device').description('reject a device: its gateway never controls it (`reject` is for held commands)').argument('<deviceId>', 'device id (as `erab aggregator devices` lists it)'))
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (id: string, o: ConnOpts & { reason: string }) => {
      print(await call(o, 'POST', `/api/fleet/devices/${encodeURIComponent(id)}/reject`, { reason: o.reason }), o.json, formatAdmissionSent);
    });
}
