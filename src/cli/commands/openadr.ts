/**
 * `erab openadr vtn|ven`: a standalone OpenADR 2.0b VTN or VEN on mutual TLS, for debugging a
 * peer or scripting a test. Both run until SIGINT/SIGTERM; `--log-xml` prints every exchanged
 * payload on stderr with signature values, certificates and nonces removed.
 *
 *   erab openadr vtn --cert C --key K --ca CA [--crl F] [--listen 127.0.0.1:8443] [--store vtn.db]
 *                    [--vtn-id ID] [--allow role:id ...] [--allow-fingerprint FP ...] [--profile R1]
 *                    [--workers N]   (N processes on one port, over a postgres:// store; docs/scale.md)
 *                    [--poll-freq S] [--signature required|optional|off] [--event kW:startInS:durationMin]
 *                    [--any-ven-id] [--log-xml]
 *   erab openadr ven --cert C --key K --ca CA --vtn-url https://host:port [--ven-name N] [--store ven.db]
 *                    [--expect-vtn role:id] [--push-listen 127.0.0.1:0 --push-allow role:id]
 *                    [--xml-signature --vtn-cert F] [--report-watts W [--report-seconds S]] [--opt optIn|optOut] [--log-xml]
 */
import { untilStopped } from '../until-stopped.js';
import { Command, Option } from 'commander';
import { hostPort, positiveNumber } from '../option-values.js';
import { readFileSync } from 'node:fs';
import { InvalidInputError, explain } from '../../core/errors.js';
import type { EpochMillis, Millis } from '../../core/units.js';
import { redactXml } from '../../protocols/openadr/audit.js';
import type { OptType } from '../../protocols/openadr/event.js';
import type { ServiceName } from '../../protocols/openadr/register-party.js';
import type { SignatureMode } from '../../protocols/openadr/signature.js';
import { powerRealItem } from '../../protocols/openadr/units.js';
import { openadrStoreMigrations } from '../../endpoints/openadr/store.js';
import { startVenEndpoint } from '../../endpoints/openadr/ven-endpoint.js';
import { startVtnEndpoint } from '../../endpoints/openadr/vtn-endpoint.js';
import type { AuditRecordInput, AuditSink } from '../../security/audit/types.js';
import { parseParticipant, type ParticipantRole } from '../../security/identity.js';
import { loadTlsMaterial, type TlsMaterial, type TlsProfileName } from '../../security/tls.js';
import { RoleHealth, startOperatorListener, type OperatorListener } from '../../roles/common/health.js';
import { outboxDepths, storeReadiness, watchVtnQueue } from '../../roles/common/observability.js';
import { openStore } from '../../store/store.js';
import { UsageError } from '../usage.js';
import { isWorker, reportReady, startWorkers, workerCount } from '../../roles/common/workers.js';

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** pino's numeric levels: refusals at warn, failures at error, the rest at info. */
const LEVEL = { success: 30, refused: 40, failure: 50 } as const;

/**
 * Audit records as JSON lines on stderr (a standalone tool has no tamper-evident log of its own),
 * with a pino level; refusals are also counted in the tool's metrics when it serves them.
 */
function stderrAudit(health?: RoleHealth): AuditSink {
  return {
    append(r: AuditRecordInput) {
      process.stderr.write(`${JSON.stringify({ level: LEVEL[r.outcome], audit: r.action, outcome: r.outcome, actor: r.actor.id, fingerprint: r.actor.fingerprint, target: r.target, reason: r.reason })}\n`);
      health?.countAudit(r);
    },
  };
}

/**
 * `--operator-listen`: health and metrics of a standalone tool on their own mutual-TLS listener
 * (operator certificates only, or the `--operator` ids).
 */
async function operatorEndpoint(health: RoleHealth, o: { operatorListen?: { host: string; port: number }; operator?: string[] }, tls: TlsMaterial, audit: AuditSink, listener: string): Promise<OperatorListener | undefined> {
  if (!o.operatorListen) return undefined;
  health.watchTls(tls);
  const op = await startOperatorListener(health, { material: tls, audit, host: o.operatorListen.host, port: o.operatorListen.port, listener, operators: o.operator });
  process.stdout.write(`health and metrics on ${op.url}/metrics (mutual TLS, operator certificates)\n`);
  return op;
}

const operatorOptions = (cmd: Command): Command => cmd
  .option('--operator-listen <host:port>', 'serve /healthz, /readyz and /metrics here (mutual TLS, operator certificates only)', hostPort('--operator-listen'))
  .option('--operator <id>', 'operator participant id allowed on --operator-listen (repeatable; default any operator certificate)', collect);

const xmlLogger = (who: string) => (direction: 'in' | 'out', service: ServiceName, xml: string): void => {
  process.stderr.write(`--- ${who} ${direction === 'in' ? '<=' : '=>'} ${service}\n${redactXml(xml)}\n`);
};

interface TlsOpts { cert: string; key: string; ca: string; crl?: string; profile: TlsProfileName }

const tlsOptions = (cmd: Command): Command => cmd
  .requiredOption('--cert <file>', 'our certificate (PEM)')
  .requiredOption('--key <file>', 'our private key (PEM)')
  .requiredOption('--ca <file>', 'CA certificate(s) peers must chain to (PEM)')
  .option('--crl <file>', 'certificate revocation list (PEM)')
  .addOption(new Option('--profile <name>', 'TLS interface profile').choices(['R1', 'R2', 'R3', 'R4']).default('R1'));

const material = (o: TlsOpts) => loadTlsMaterial({ certFile: o.cert, keyFile: o.key, caFile: o.ca, ...(o.crl ? { crlFile: o.crl } : {}) });

function participants(list: string[] | undefined, flag: string): string[] {
  return (list ?? []).map((p) => {
    const i = p.indexOf(':');
    if (i < 0) throw new UsageError(explain('cli.openadr.badParticipant', { flag, value: p }));
    const { role, id } = parseParticipant(p.slice(0, i), p.slice(i + 1));
    return `${role}:${id}`;
  });
}

/** In a worker process, a start-up failure ends the process (its IPC channel would keep it alive). */
async function inWorker<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (!isWorker()) throw err;
    process.stderr.write(`erab worker ${process.pid}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

export function register(program: Command): void {
  const group = program.command('openadr').description('standalone OpenADR 2.0b VTN or VEN on mutual TLS (debug a peer, script a test)');

  const vtnCmd = tlsOptions(group.command('vtn').description('run a VTN until SIGINT/SIGTERM'))
    .option('--listen <host:port>', 'where to listen', hostPort('--listen'), { host: '127.0.0.1', port: 8443 })
    .option('--store <url>', 'SQLite file or postgres:// URL for VTN state', 'openadr-vtn.db')
    .option('--vtn-id <id>', 'our vtnID', 'VTN')
    .option('--allow <role:id>', 'participant allowed to connect and register (repeatable)', collect)
    .option('--allow-fingerprint <fp>', 'certificate fingerprint allowed (repeatable)', collect)
    .option('--poll-freq <seconds>', 'oadrRequestedOadrPollFreq', positiveNumber('--poll-freq'), 10)
    .addOption(new Option('--signature <mode>', 'XML signatures on incoming payloads').choices(['required', 'optional', 'off']).default('optional'))
    .option('--event <kW:startInS:durationMin>', 'create a LOAD_DISPATCH set-point event for every registered VEN once one registers')
    .option('--any-ven-id', 'let VENs pick their venID (default: the certificate\'s participant id)')
    .option('--log-xml', 'print every payload (signatures, certificates and nonces removed)')
    .option('--workers <n>', 'worker processes sharing the port (node:cluster round-robin; 0 = one per core); more than 1 needs a postgres:// store', Number, 1);
  operatorOptions(vtnCmd)
    .action(async (o: TlsOpts & { listen: { host: string; port: number }; store: string; vtnId: string; allow?: string[]; allowFingerprint?: string[]; pollFreq: number; signature: SignatureMode; event?: string; anyVenId?: boolean; logXml?: boolean; workers: number; operatorListen?: { host: string; port: number }; operator?: string[] }) => {
      const allow = participants(o.allow, '--allow');
      const workers = workerCount(o.workers);
      if (workers > 1 && o.operatorListen) throw new UsageError(explain('cli.openadr.operatorListenWorkers'));
      if (workers > 1 && !/^postgres(ql)?:\/\//.test(o.store)) throw new UsageError(explain('cli.openadr.workersNeedPostgres'));
      if (workers > 1 && o.event) throw new UsageError(explain('cli.openadr.eventWithWorkers'));
      if (workers > 1 && !isWorker()) {
        // The primary checks the TLS files and migrates the store once, then forks, restarts and
        // stops the workers.
        await material(o);
        await (await openStore({ url: o.store, migrations: openadrStoreMigrations })).close();
        const pool = await startWorkers({ workers, log: (msg, f) => process.stderr.write(`${msg} ${JSON.stringify(f ?? {})}\n`) });
        const stopped = untilStopped();
        process.stdout.write(`VTN ${o.vtnId} listening on ${pool.url} (${workers} workers, pids ${pool.pids().join(' ')}; mutual TLS, profile ${o.profile})\n`);
        await stopped;
        await pool.stop();
        return;
      }
      if (!allow.length && !o.allowFingerprint?.length) throw new UsageError(explain('cli.openadr.noAllow'));
      let event: { kw: number; startS: number; durationMin: number } | undefined;
      if (o.event) {
        const m = /^(-?\d+(?:\.\d+)?):(\d+):(\d+)$/.exec(o.event);
        if (!m) throw new UsageError(explain('cli.openadr.badEvent'));
        event = { kw: Number(m[1]), startS: Number(m[2]), durationMin: Number(m[3]) };
      }
      const store = await inWorker(() => openStore({ url: o.store, migrations: openadrStoreMigrations }));
      let eventCreated = false;
      const health = o.operatorListen ? new RoleHealth({ role: 'openadr-vtn', id: o.vtnId, processMetrics: true }) : undefined;
      const audit = stderrAudit(health);
      const tls = await material(o);
      const running = await inWorker(async () => startVtnEndpoint({
        vtnID: o.vtnId, material: tls, profile: o.profile, store, audit,
        ...(health ? { instrument: (h) => health.instrument(o.profile, h) } : {}),
        allowList: { participants: allow, fingerprints: o.allowFingerprint ?? [] },
        host: o.listen.host, port: o.listen.port, venIdFromCertificate: !o.anyVenId,
        vtn: {
          pollFreqMs: o.pollFreq * 1000, signatureMode: o.signature,
          ...(o.logXml ? { onXml: xmlLogger('VTN') } : {}),
          hooks: {
            onRegistered: (r) => {
              process.stdout.write(`registered ${r.venID} (${r.fingerprint}) ${r.httpPullModel ? 'pull' : `push ${r.transportAddress}`}\n`);
              if (event && !eventCreated) {
                eventCreated = true;
                const e = event;
                setImmediate(() => void running.vtn.createEvent({
                  marketContext: `http://${o.vtnId}/cli`,
                  activePeriod: { dtstart: (Date.now() + e.startS * 1000) as EpochMillis, duration: (e.durationMin * 60_000) as Millis },
                  signals: [{ signalName: 'LOAD_DISPATCH', signalType: 'setpoint', signalID: 'cli', itemBase: powerRealItem('k'), intervals: [{ duration: (e.durationMin * 60_000) as Millis, uid: '0', value: e.kw }] }],
                }).then((ev) => process.stdout.write(`event ${ev.descriptor.eventID} created\n`)));
              }
            },
            onEventOpt: (x) => process.stdout.write(`opt ${x.venID} ${x.eventID}#${x.modificationNumber} ${x.optType}\n`),
            onReport: (venID, r) => process.stdout.write(`report ${venID} ${r.reportName ?? ''} ${r.reportRequestID} intervals=${r.intervals?.length ?? 0}\n`),
          },
        },
      }));
      if (health) {
        health.gauge('erab_registered_participants', 'VENs registered with this VTN', () => running.vtn.registrations().length);
        watchVtnQueue(health, running.vtnStore);
        health.ready('store', storeReadiness(store));
        health.ready('openadr_listener', () => running.server.listening || 'the OpenADR listener is not listening');
      }
      const op = health ? await operatorEndpoint(health, o, tls, audit, `${o.vtnId}:operator`) : undefined;
      const stopped = untilStopped();
      if (isWorker()) reportReady(running.port, running.url);
      else process.stdout.write(`VTN ${o.vtnId} listening on ${running.url} (mutual TLS, profile ${o.profile}, store ${store.displayUrl})\n`);
      await stopped;
      await op?.close();
      await running.close();
      await store.close();
      if (isWorker()) process.exit(0);
    });

  const venCmd = tlsOptions(group.command('ven').description('run a VEN until SIGINT/SIGTERM'))
    .requiredOption('--vtn-url <url>', 'the VTN base URL, e.g. https://127.0.0.1:8443')
    .option('--ven-name <name>', 'our oadrVenName (and the key of our saved registration)', 'VEN')
    .option('--store <url>', 'SQLite file or postgres:// URL for registration and outbox', 'openadr-ven.db')
    .option('--expect-vtn <role:id>', 'the VTN certificate must name this participant')
    .option('--no-check-hostname', 'do not check the VTN host name against its certificate')
    .option('--push-listen <host:port>', 'run a push endpoint here and register for the push model', hostPort('--push-listen'))
    .option('--push-allow <role:id>', 'who may push to us (repeatable; default the --expect-vtn participant)', collect)
    .option('--xml-signature', 'sign our payloads and ask the VTN to sign its own')
    .option('--vtn-cert <file>', 'VTN certificate (PEM) to verify its XML signatures')
    .option('--report-watts <W>', 'offer TELEMETRY_USAGE / TELEMETRY_STATUS reports with this constant power', Number)
    .option('--report-seconds <s>', 'minimum sampling period offered for those reports', positiveNumber('--report-seconds'), 60)
    .addOption(new Option('--opt <optType>', 'answer to every event').choices(['optIn', 'optOut']).default('optIn'));
  operatorOptions(venCmd)
    .option('--log-xml', 'print every payload (signatures, certificates and nonces removed)')
    .action(async (o: TlsOpts & { vtnUrl: string; venName: string; store: string; expectVtn?: string; checkHostname: boolean; pushListen?: { host: string; port: number }; pushAllow?: string[]; xmlSignature?: boolean; vtnCert?: string; reportWatts?: number; reportSeconds: number; opt: OptType; logXml?: boolean; operatorListen?: { host: string; port: number }; operator?: string[] }) => {
      if (!/^https:\/\//.test(o.vtnUrl)) throw new UsageError(explain('cli.openadr.vtnUrlHttps'));
      let expect: { role: ParticipantRole; id: string } | undefined;
      if (o.expectVtn) {
        const [p] = participants([o.expectVtn], '--expect-vtn');
        const i = (p as string).indexOf(':');
        expect = { role: (p as string).slice(0, i) as ParticipantRole, id: (p as string).slice(i + 1) };
      }
      const pushAllow = participants(o.pushAllow ?? (o.expectVtn ? [o.expectVtn] : []), '--push-allow');
      if (o.pushListen && !pushAllow.length) throw new UsageError(explain('cli.openadr.pushNeedsAllow'));
      let vtnCertificatePem: string | undefined;
      if (o.vtnCert) {
        try {
          vtnCertificatePem = readFileSync(o.vtnCert, 'utf8');
        } catch (err) {
          throw new InvalidInputError(explain('cli.openadr.vtnCertUnreadable', { file: o.vtnCert, why: (err as NodeJS.ErrnoException).code ?? '' }));
        }
      }
      const store = await openStore({ url: o.store, migrations: openadrStoreMigrations });
      const w = o.reportWatts;
      const period = (o.reportSeconds * 1000) as Millis;
      const health = o.operatorListen ? new RoleHealth({ role: 'openadr-ven', id: o.venName, processMetrics: true }) : undefined;
      const audit = stderrAudit(health);
      const tls = await material(o);
      const running = await startVenEndpoint({
        venName: o.venName, vtnUrl: o.vtnUrl, material: tls, profile: o.profile, audit, store,
        checkHostname: o.checkHostname,
        ...(expect ? { expectVtn: expect } : {}),
        ...(o.pushListen ? { push: { host: o.pushListen.host, port: o.pushListen.port, allowList: { participants: pushAllow } } } : {}),
        ...(o.xmlSignature ? { xmlSignature: true } : {}),
        ...(vtnCertificatePem ? { vtnCertificatePem } : {}),
        ven: {
          ...(o.logXml ? { onXml: xmlLogger('VEN') } : {}),
          onRegistered: (s) => process.stdout.write(`registered as ${s.venID} with ${s.vtnID} (poll every ${s.pollFreqMs / 1000} s)\n`),
          onEvent: (e) => {
            process.stdout.write(`event ${e.event.descriptor.eventID}#${e.event.descriptor.modificationNumber} ${e.status} start ${new Date(e.effectiveStart).toISOString()} → ${o.opt}\n`);
            return o.opt;
          },
          onEventCancelled: (id, explicit) => process.stdout.write(`event ${id} cancelled${explicit ? '' : ' (no longer listed)'}\n`),
          ...(w !== undefined ? {
            reports: [
              { reportSpecifierID: 'cli-usage', reportName: 'TELEMETRY_USAGE' as const, descriptions: [{ rID: 'power', reportType: 'usage' as const, readingType: 'Direct Read' as const, itemBase: powerRealItem('none'), samplingRate: { minPeriod: period, maxPeriod: period, onChange: false } }], read: () => w },
              { reportSpecifierID: 'cli-status', reportName: 'TELEMETRY_STATUS' as const, descriptions: [{ rID: 'status', reportType: 'x-resourceStatus' as const, readingType: 'x-notApplicable' as const, samplingRate: { minPeriod: period, maxPeriod: period, onChange: false } }], read: () => ({ online: true, manualOverride: false }) },
            ],
          } : {}),
        },
      });
      if (health) {
        health.gauge('erab_outbox_depth', 'Reports waiting for the VTN', outboxDepths(store), ['topic']);
        health.ready('store', storeReadiness(store));
        health.ready('registered', () => running.ven.registration !== undefined || `not registered with ${o.vtnUrl}`);
      }
      const op = health ? await operatorEndpoint(health, o, tls, audit, `${o.venName}:operator`) : undefined;
      const stopped = untilStopped();
      process.stdout.write(`VEN ${o.venName} → ${o.vtnUrl}${running.pushUrl ? ` (push endpoint ${running.pushUrl})` : ' (pull)'}\n`);
      await stopped;
      await op?.close();
      await running.close();
      await store.close();
      if (isWorker()) process.exit(0);
    });
}
