/**
 * `erab aggregator status|command|approve|reject`: an operator's client for a running
 * aggregator's operator endpoint (src/roles/aggregator/runtime/console.ts), over mutual TLS with
 * the operator's own certificate — the certificate is who acts, for the two-person rule and the
 * audit trail (自家用GL 7-1-2, 8-1-1).
 *
 *   erab aggregator command --url https://127.0.0.1:9443 --cert alice.pem --key alice.key --ca ca.pem \
 *     --action reduce --power-kw 200 --resources fleet --duration-min 60 --reason "evening peak"
 *   erab aggregator command ... --action reduce --power-kw 500 --pool tokyo-t2 --duration-min 60 \
 *     --start 2026-12-07T17:00+09:00 --reason "evening peak"      (a pool, from 17:00 JST)
 *   erab aggregator approve <id> --url ... --cert bob.pem --key bob.key --ca ca.pem
 *   erab aggregator devices --state pending --url ... --cert alice.pem --key alice.key --ca ca.pem
 *   erab aggregator admit <deviceId> --revision 1 --url ...      (the revision `devices` shows)
 *   erab aggregator reject-device <deviceId> --reason "not ours" --url ...
 *   erab aggregator quarantine <deviceId> --reason "suspected of compromise" --url ...   (a security officer)
 *   erab aggregator release <deviceId> --reason "cleared" [--revision 3] --url ...      (a security officer;
 *                                                     without --revision: the one the aggregator shows now)
 */
import type { Command } from 'commander';
import type { CommandRecord } from '../../roles/aggregator/runtime/approvals.js';
import { TlsMaterial } from '../../security/tls.js';
import { operatorCall } from '../../roles/common/operator-client.js';
import { explain } from '../../core/errors.js';
import { UsageError } from '../usage.js';
import { positiveNumber } from '../option-values.js';
import { refusalReason } from '../failure.js';
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

/** One request to the aggregator's operator endpoint as the operator of --cert (roles/common/operator-client.ts). */
async function call(o: ConnOpts, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  if (!URL.canParse(o.url)) throw new UsageError(explain('cli.aggregator.badUrl', { url: o.url }));
  if (new URL(o.url).protocol !== 'https:') throw new UsageError(explain('cli.aggregator.urlHttps'));
  const material = await TlsMaterial.fromFiles({ certFile: o.cert, keyFile: o.key, caFile: o.ca, ...(o.crl ? { crlFile: o.crl } : {}) });
  return operatorCall(material, o.url, method, path, body, { role: 'aggregator', id: o.aggregator });
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
    process.stderr.write(`erab: ${t('failure.refused', { status: r.status, reason: refusalReason(r.json, `HTTP ${r.status}`) })}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(json ? `${JSON.stringify(r.json, null, 2)}\n` : human(r.json as never));
  const rec = (r.json as { record?: { id?: string; state?: string; allocatedW?: number; shortfallW?: number; command?: { powerW?: number } } } | undefined)?.record;
  if (rec?.state === 'short') {
    const kw = (w: number | undefined) => ((w ?? 0) / 1000).toFixed(1);
    process.stderr.write(`erab: ${t('failure.short', { id: rec.id ?? '?', short: kw(rec.shortfallW), allocated: kw(rec.allocatedW), power: kw(rec.command?.powerW) })}\n`);
    process.exitCode = EXIT_SHORT;
  }
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
    .option('--power-kw <kW>', 'total power over the addressed resources', positiveNumber('--power-kw'))
    .option('--resources <ids>', '"fleet" (the default) or a comma-separated list of resource ids')
    .option('--pool <id>', 'the resources of one portfolio pool instead (GET /api/fleet/pools lists them)')
    .option('--duration-min <min>', 'how long the command holds', positiveNumber('--duration-min'))
    .option('--start <time>', 'start later: ISO 8601 with an offset, e.g. 2026-12-07T17:00+09:00 (in the future, at most 24 h ahead; default: at once)')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (o: ConnOpts & { action: string; powerKw?: number; resources?: string; pool?: string; durationMin?: number; start?: string; reason: string }) => {
      if (o.action !== 'release' && (o.powerKw === undefined || o.durationMin === undefined)) throw new UsageError(explain('cli.aggregator.powerAndDuration'));
      if (o.pool !== undefined && o.resources !== undefined) throw new UsageError(explain('cli.aggregator.poolOrResources'));
      if (o.pool !== undefined && !o.pool.trim()) throw new UsageError(explain('cli.aggregator.emptyPool'));
      const resources = o.pool !== undefined ? { pool: o.pool.trim() }
        : o.resources === undefined || o.resources === 'fleet' ? 'fleet' : o.resources.split(',').map((x) => x.trim()).filter(Boolean);
      print(await call(o, 'POST', '/commands', {
        action: o.action,
        powerW: Math.round((o.powerKw ?? 0) * 1000),
        resources,
        durationMs: Math.round((o.durationMin ?? 0) * 60_000),
        // As typed: the aggregator checks it (epoch ms or ISO 8601 with an offset) and refuses it keyed.
        ...(o.start !== undefined ? { startAt: /^\d+$/.test(o.start) ? Number(o.start) : o.start } : {}),
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
    .option('--limit <n>', 'devices per page (1-500)', positiveNumber('--limit'))
    .option('--cursor <cursor>', 'the page after this cursor (printed under a full page)')
    .action(async (o: ConnOpts & { state?: string; gateway?: string; search?: string; limit?: number; cursor?: string }) => {
      if (o.state !== undefined && !(ADMISSION_STATES as readonly string[]).includes(o.state)) throw new UsageError(explain('cli.aggregator.badState', { states: ADMISSION_STATES.join(', '), value: o.state }));
      const q = new URLSearchParams();
      if (o.state) q.set('admission', o.state);
      if (o.gateway) q.set('gateway', o.gateway);
      if (o.search) q.set('q', o.search);
      if (o.limit !== undefined) q.set('limit', String(Math.floor(o.limit)));
      if (o.cursor) q.set('cursor', o.cursor);
      const qs = q.toString();
      print(await call(o, 'GET', `/api/fleet/devices${qs ? `?${qs}` : ''}`), o.json, formatDevices);
    });

  connOptions(aggregator.command('admit').description('admit a pending or rejected device: its gateway controls it from then on (a quarantined one is released)').argument('<deviceId>', 'device id (as `erab aggregator devices` lists it)'))
    .requiredOption('--revision <n>', 'the admission revision `erab aggregator devices` shows (refused when the record changed since)', positiveNumber('--revision'))
    .action(async (id: string, o: ConnOpts & { revision: number }) => {
      if (!Number.isInteger(o.revision)) throw new UsageError(explain('cli.aggregator.badRevision', { value: o.revision }));
      print(await call(o, 'POST', `/api/fleet/devices/${encodeURIComponent(id)}/admit`, { revision: o.revision }), o.json, formatAdmissionSent);
    });

  connOptions(aggregator.command('reject-device').description('reject a device: its gateway never controls it (`reject` is for held commands)').argument('<deviceId>', 'device id (as `erab aggregator devices` lists it)'))
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (id: string, o: ConnOpts & { reason: string }) => {
      print(await call(o, 'POST', `/api/fleet/devices/${encodeURIComponent(id)}/reject`, { reason: o.reason }), o.json, formatAdmissionSent);
    });

  connOptions(aggregator.command('quarantine').description('quarantine a device (security officer): its gateway returns it to its owner\'s mode and never commands it until released').argument('<deviceId>', 'device id (as `erab aggregator devices` lists it)'))
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (id: string, o: ConnOpts & { reason: string }) => {
      if (!o.reason.trim()) throw new UsageError(explain('cli.aggregator.noReason'));
      print(await call(o, 'POST', `/api/fleet/devices/${encodeURIComponent(id)}/quarantine`, { reason: o.reason }), o.json, formatAdmissionSent);
    });

  connOptions(aggregator.command('release').description('release a quarantined device (security officer): its gateway admits it again').argument('<deviceId>', 'device id (as `erab aggregator devices` lists it)'))
    .option('--revision <n>', 'the admission revision you decided on (`erab aggregator devices`); default: the one the aggregator shows now', positiveNumber('--revision'))
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .action(async (id: string, o: ConnOpts & { revision?: number; reason: string }) => {
      if (o.revision !== undefined && !Number.isInteger(o.revision)) throw new UsageError(explain('cli.aggregator.badRevision', { value: o.revision }));
      if (!o.reason.trim()) throw new UsageError(explain('cli.aggregator.noReason'));
      let revision = o.revision;
      if (revision === undefined) {
        // The revision the aggregator shows now: the device must still be the one listed under this id.
        const listed = await call(o, 'GET', `/api/fleet/devices?q=${encodeURIComponent(id)}`);
        const d = listed.status === 200 ? (listed.json as { items: { id: string; admissionRevision: number | null }[] }).items.find((x) => x.id === id) : undefined;
        if (listed.status !== 200) return print(listed, o.json, formatAdmissionSent);
        if (d?.admissionRevision == null) {
          process.stderr.write(`erab: ${t('aggregator.devices.noRevision', { device: id })}\n`);
          process.exitCode = 1;
          return;
        }
        revision = d.admissionRevision;
      }
      print(await call(o, 'POST', `/api/fleet/devices/${encodeURIComponent(id)}/release`, { revision, reason: o.reason }), o.json, formatAdmissionSent);
    });
}
