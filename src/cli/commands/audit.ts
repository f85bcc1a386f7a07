/**
 * `erab audit ...`: inspect, prove and maintain a tamper-evident audit log (自家用GL 8-1-4 logs
 * kept and reviewed; RFC 9162 Merkle tree with C2SP signed checkpoints).
 *
 *   erab audit verify     --dir D [--key K] [--include-archive] [--checkpoint FILE]... [--witness FILE [--witness-key K]...]... [--json]
 *   erab audit prove      --dir D --index N [--size S] [--key K]      inclusion proof (JSON)
 *   erab audit prove      --dir D --from M [--to N] [--key K]         consistency proof (JSON)
 *   erab audit tail       --dir D [-n 20] [--follow] [--interval ms]
 *   erab audit export     --dir D --format jsonl|syslog [--facility F] [--hostname H] [--app-name A] [--out FILE]
 *                         [--to HOST:PORT --tls-cert F --tls-key F --tls-ca F [--tls-crl F] [--expect-id ID]]  (RFC 5425)
 *   erab audit retention  --dir D [--max-age-days N] [--max-records N] [--delete-archived] [--apply] [--json]
 *   erab audit key        --dir D                                       print the verifier key
 *   erab audit append     --dir D --actor kind:id --action A --outcome O [--target T] [--reason R] [--origin O]
 *
 * --key is the verifier key (`<origin>+<id>+<base64>`) or a file holding it. Without it the key in
 * the log directory is trusted, which only proves the log is consistent with itself; an auditor
 * should pass the key they received out of band.
 * --witness is a checkpoint cosigned by a witness (src/security/audit/witness.ts): the log must
 * still extend it. --witness-key is the witness's key (`<name>+<id>+<base64(0x04 || key)>`, its
 * `cosigner.vkey`) or a file holding it; without it the key stored beside the checkpoint file is
 * used (again only self-consistency).
 * Exit codes: 0 intact / done, 1 tampered or failed, 2 usage error.
 */
import { Command, Option } from 'commander';
import { integerFrom, numberFrom, OptionValueError } from '../option-values.js';
import { createWriteStream, existsSync, openSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { IntegrityError, InvalidInputError, becauseOf, explain } from '../../core/errors.js';
import { AuditLog } from '../../security/audit/log.js';
import { consistencyProof, inclusionProof } from '../../security/audit/proofs.js';
import { enforceRetention, planRetention, type RetentionPolicy } from '../../security/audit/retention.js';
import { readRecords, SYSLOG_FACILITIES, tailRecords, toSyslog, type SyslogFacility } from '../../security/audit/export.js';
import { acquireLock, listSegments, readStoredVerifierKey, readStoreFile, resolveVerifierKey, VERIFIER_KEY_FILE } from '../../security/audit/store.js';
import { verifyAuditLog, type VerifyResult } from '../../security/audit/verify.js';
import { splitCheckpointsFile } from '../../security/audit/checkpoint.js';
import { loadWitnessedCheckpoint, resolveWitnessKey, witnessFindings } from '../../security/audit/witnessed.js';
import { formatVerifierKey, type NoteVerifier } from '../../security/audit/note.js';
import type { AuditActor, AuditOutcome } from '../../security/audit/types.js';
import { clientTlsOptions, loadTlsMaterial } from '../../security/tls.js';
import { sendSyslogOverTls } from '../../security/audit/syslog-tls.js';
import { createProgress } from '../progress.js';
import { UsageError } from '../usage.js';
import { onStopSignal } from '../../core/stop-signals.js';

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function requireLogDir(dir: string): void {
  if (!existsSync(dir)) throw new InvalidInputError(explain('cli.audit.noDir', { dir }));
  if (!existsSync(join(dir, 'segments')) && !existsSync(join(dir, VERIFIER_KEY_FILE))) throw new InvalidInputError(explain('cli.audit.notDir', { dir, file: VERIFIER_KEY_FILE }));
}

function verifierFrom(opts: { key?: string }): NoteVerifier | undefined {
  return opts.key ? resolveVerifierKey(opts.key) : undefined;
}

function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

function summary(r: VerifyResult): string {
  const cp = r.checkpoints.latest ? `latest checkpoint ${r.checkpoints.latest.size}` : 'no checkpoint';
  return `${r.treeSize} records (${r.archivedSize} archived), ${r.checkpoints.valid}/${r.checkpoints.total} checkpoints valid, ${cp}, ${r.consistencyProofsChecked} consistency proofs checked, root ${r.rootHash}`;
}

function registerVerify(audit: Command): void {
  audit
    .command('verify')
    .description('recompute the Merkle tree, check every signed checkpoint and their consistency, name the first tampered record')
    .requiredOption('--dir <dir>', 'audit log directory')
    .option('--key <key-or-file>', 'trusted verifier key (<origin>+<id>+<base64>) or a file holding it')
    .option('--include-archive', 'also read the archived segments back and recompute the history from record 0')
    .option('--checkpoint <file>', 'a checkpoint note kept from earlier (repeatable): the log must still be consistent with it', collect)
    .option('--witness <file>', 'a checkpoint cosigned by a witness (repeatable): the log must not be truncated or rewritten below it', collect)
    .option('--witness-key <key-or-file>', 'a witness\'s cosigner key (repeatable); default: the key stored beside the --witness file', collect)
    .option('--json', 'print the full result as JSON on stdout')
    .action((o: { dir: string; key?: string; json?: boolean; includeArchive?: boolean; checkpoint?: string[]; witness?: string[]; witnessKey?: string[] }) => {
      requireLogDir(o.dir);
      if (o.witnessKey && !o.witness) throw new UsageError(explain('cli.audit.witnessKeyAlone'));
      const verifier = verifierFrom(o);
      const witnessKeys = (o.witnessKey ?? []).map(resolveWitnessKey);
      const witnessed = (o.witness ?? []).map((f) => loadWitnessedCheckpoint(f, witnessKeys));
      const trustedCheckpoints = (o.checkpoint ?? []).flatMap((f) => {
        let text: string;
        try {
          text = readStoreFile(f, 1024 * 1024).toString('utf8');
        } catch (err) {
          throw new InvalidInputError(explain('cli.audit.checkpointUnreadable', { file: f, ...becauseOf(err) }));
        }
        const { notes, corrupt } = splitCheckpointsFile(text);
        if (corrupt) throw new InvalidInputError(explain('cli.audit.checkpointCorrupt', { file: f, line: corrupt.line, why: corrupt.message }));
        if (notes.length === 0) throw new InvalidInputError(explain('cli.audit.checkpointEmpty', { file: f }));
        return notes.map((n) => n.note);
      });
      const progress = createProgress('verify');
      const r = verifyAuditLog(o.dir, {
        ...(verifier ? { verifier } : {}),
        ...(o.includeArchive ? { includeArchive: true } : {}),
        ...(trustedCheckpoints.length || witnessed.length ? { trustedCheckpoints: [...trustedCheckpoints, ...witnessed.map((w) => w.note)] } : {}),
        onProgress: (done, total, file) => progress.update(done, total, file),
      });
      progress.done(r.ok ? 'intact' : 'FAILED');
      const findings = witnessFindings(r, witnessed);
      if (o.json) printJson(witnessed.length ? { ...r, witnessed: witnessed.map(({ note: _n, ...w }) => w), witnessFindings: findings } : r);
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      for (const w of witnessed) if (w.keySource !== 'given') process.stderr.write(`warning: ${w.file}: witness key read from beside the file; pass --witness-key from the witness's operator to rule out a replaced key\n`);
      if (r.ok) {
        if (!o.json) process.stdout.write(`intact: ${summary(r)}${witnessed.length ? `; extends ${witnessed.map((w) => `size ${w.size} cosigned by ${w.witness}`).join(', ')}` : ''}\n`);
        return;
      }
      if (!o.json) for (const p of r.problems) process.stderr.write(`  ${p.kind}: ${p.message}\n`);
      if (!o.json) for (const f of findings) process.stderr.write(`  witness: ${f}\n`);
      const head = findings[0] ?? (r.firstTamper ? r.firstTamper.message : r.problems[0]!.message);
      throw new IntegrityError(explain('cli.audit.verifyFailed', { dir: o.dir, finding: head }));
    });
}

function registerProve(audit: Command): void {
  audit
    .command('prove')
    .description('print an RFC 9162 inclusion proof (--index) or consistency proof (--from) as JSON')
    .requiredOption('--dir <dir>', 'audit log directory')
    .option('--index <n>', 'record index to prove inclusion of', integerFrom('--index', 0))
    .option('--size <s>', 'tree size to prove against (default: the latest signed checkpoint)', integerFrom('--size', 0))
    .option('--from <m>', 'older tree size of a consistency proof', integerFrom('--from', 0))
    .option('--to <n>', 'newer tree size of a consistency proof (default: the latest signed checkpoint)', integerFrom('--to', 0))
    .option('--key <key-or-file>', 'trusted verifier key or a file holding it')
    .option('--include-archive', 'read archived segments back, to prove archived records and sizes')
    .action((o: { dir: string; index?: number; size?: number; from?: number; to?: number; key?: string; includeArchive?: boolean }) => {
      if ((o.index === undefined) === (o.from === undefined)) throw new UsageError(explain('cli.audit.proofKind'));
      if (o.index !== undefined && o.to !== undefined) throw new UsageError(explain('cli.audit.toWithIndex'));
      if (o.from !== undefined && o.size !== undefined) throw new UsageError(explain('cli.audit.sizeWithFrom'));
      requireLogDir(o.dir);
      const verifier = verifierFrom(o);
      const opts = { ...(verifier ? { verifier } : {}), ...(o.includeArchive ? { includeArchive: true } : {}) };
      if (o.index !== undefined) {
        const p = inclusionProof(o.dir, { index: o.index, size: o.size }, opts);
        if (!p.checkpoint) process.stderr.write(`warning: no signed checkpoint at size ${p.treeSize}; the root is unsigned\n`);
        printJson(p);
      } else {
        const p = consistencyProof(o.dir, { from: o.from!, to: o.to }, opts);
        if (!p.toCheckpoint || (!p.fromCheckpoint && p.fromSize > 0)) process.stderr.write('warning: one of the sizes has no signed checkpoint; its root is unsigned\n');
        printJson(p);
      }
    });
}

function registerTail(audit: Command): void {
  audit
    .command('tail')
    .description('print the last records (JSON lines, as stored); --follow keeps printing new ones')
    .requiredOption('--dir <dir>', 'audit log directory')
    .option('-n, --lines <n>', 'how many records', integerFrom('--lines', 0), 20)
    .option('-f, --follow', 'keep printing records as they are appended (until interrupted)')
    .option('--interval <ms>', 'poll interval with --follow', integerFrom('--interval', 0), 500)
    .action(async (o: { dir: string; lines: number; follow?: boolean; interval: number }) => {
      requireLogDir(o.dir);
      const last = tailRecords(o.dir, o.lines);
      for (const l of last) process.stdout.write(`${l.line}\n`);
      if (!o.follow) return;
      await follow(o.dir, last.length > 0 ? last[last.length - 1]!.record?.index : undefined, Math.max(50, o.interval));
    });
}

/** Polls the segments for records after `lastIndex` until SIGINT/SIGTERM. */
function follow(dir: string, lastIndex: number | undefined, intervalMs: number): Promise<void> {
  return new Promise((resolve) => {
    let next = lastIndex === undefined ? 0 : lastIndex + 1;
    // Remember where we are in the newest segment so each poll reads only what is new.
    let segment = '';
    let offset = 0;
    const poll = (): void => {
      const segs = listSegments(dir).segments;
      for (const s of segs) {
        if (s.name < segment) continue;
        if (s.name !== segment) {
          segment = s.name;
          offset = 0;
        }
        let buf: Buffer;
        try {
          buf = readStoreFile(s.path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // archived between list and read
          throw err;
        }
        const end = buf.lastIndexOf(0x0a) + 1; // only whole lines
        if (end <= offset) continue;
        for (const line of buf.subarray(offset, end).toString('utf8').split('\n')) {
          if (line.length === 0) continue;
          const m = /^\{"i":(\d+),/.exec(line);
          const i = m ? Number(m[1]) : Number.NaN;
          if (!Number.isNaN(i) && i < next) continue;
          process.stdout.write(`${line}\n`);
          if (!Number.isNaN(i)) next = i + 1;
        }
        offset = end;
      }
    };
    const timer = setInterval(poll, intervalMs);
    const stop = (): void => {
      clearInterval(timer);
      stopListening();
      resolve();
    };
    const stopListening = onStopSignal(stop);
    poll();
  });
}

function registerExport(audit: Command): void {
  audit
    .command('export')
    .description('write every live record as JSON lines or RFC 5424 syslog messages')
    .requiredOption('--dir <dir>', 'audit log directory')
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'syslog']).default('jsonl'))
    .addOption(new Option('--facility <facility>', 'syslog facility').choices(Object.keys(SYSLOG_FACILITIES)).default('authpriv'))
    .option('--hostname <name>', 'syslog HOSTNAME (default: this host)')
    .option('--app-name <name>', 'syslog APP-NAME', 'erab')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--to <host:port>', 'send syslog messages to a collector over mutual TLS (RFC 5425, octet counting)')
    .option('--tls-cert <file>', 'with --to: our client certificate')
    .option('--tls-key <file>', 'with --to: our private key (0600)')
    .option('--tls-ca <file>', 'with --to: CA certificate(s) the collector must chain to')
    .option('--tls-crl <file>', 'with --to: CRL of that CA')
    .option('--expect-id <id>', 'with --to: participant id the collector\'s certificate must carry')
    .action(async (o: ExportOpts) => {
      requireLogDir(o.dir);
      if (o.to !== undefined) return exportOverTls(o);
      if (o.tlsCert || o.tlsKey || o.tlsCa || o.tlsCrl || o.expectId) throw new UsageError(explain('cli.audit.tlsWithoutTo'));
      let out: NodeJS.WritableStream = process.stdout;
      if (o.out) {
        let fd: number;
        try {
          fd = openSync(o.out, 'wx', 0o640); // never overwrite an earlier export
        } catch (err) {
          throw new InvalidInputError(explain('cli.audit.outNotCreated', { file: o.out, why: (err as NodeJS.ErrnoException).code ?? (err as Error).message }));
        }
        out = createWriteStream('', { fd });
      }
      const progress = o.out ? createProgress('export') : { update() {}, done() {} };
      let n = 0;
      let unreadable = 0;
      for (const r of readRecords(o.dir)) {
        if (o.format === 'jsonl') out.write(`${r.line}\n`);
        else if (r.record) out.write(`${toSyslog(r.record, { facility: o.facility, appName: o.appName, ...(o.hostname ? { hostname: o.hostname } : {}) })}\n`);
        else unreadable += 1;
        n += 1;
        if (n % 1000 === 0) progress.update(n, n);
      }
      if (out !== process.stdout) {
        const ws = out as WriteStream;
        await new Promise<void>((resolve, reject) => {
          ws.once('error', reject);
          ws.end(() => resolve());
        });
        progress.done(`${n} records`);
      }
      if (unreadable > 0) throw new IntegrityError(explain('cli.audit.notExported', { count: unreadable, dir: o.dir }));
    });
}

interface ExportOpts {
  dir: string;
  format: 'jsonl' | 'syslog';
  facility: SyslogFacility;
  hostname?: string;
  appName: string;
  out?: string;
  to?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsCrl?: string;
  expectId?: string;
}

async function exportOverTls(o: ExportOpts): Promise<void> {
  if (o.format !== 'syslog') throw new UsageError(explain('cli.audit.toNeedsSyslog'));
  if (o.out) throw new UsageError(explain('cli.audit.toAndOut'));
  if (!o.tlsCert || !o.tlsKey || !o.tlsCa) throw new UsageError(explain('cli.audit.toNeedsTls'));
  const m = /^(.+):(\d{1,5})$/.exec(o.to!);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new UsageError(explain('cli.audit.badTo', { to: o.to! }));
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  const material = await loadTlsMaterial({ certFile: o.tlsCert, keyFile: o.tlsKey, caFile: o.tlsCa, ...(o.tlsCrl ? { crlFile: o.tlsCrl } : {}) });
  const tlsOpts = clientTlsOptions(material, 'syslog', o.expectId ? { expect: { id: o.expectId } } : {});
  let unreadable = 0;
  function* messages(): Generator<string> {
    for (const r of readRecords(o.dir)) {
      if (r.record) yield toSyslog(r.record, { facility: o.facility, appName: o.appName, ...(o.hostname ? { hostname: o.hostname } : {}) });
      else unreadable += 1;
    }
  }
  const sent = await sendSyslogOverTls(messages(), { host, port: Number(m[2]), tls: tlsOpts });
  process.stderr.write(`sent ${sent} syslog message(s) to ${o.to}\n`);
  if (unreadable > 0) throw new IntegrityError(explain('cli.audit.notSent', { count: unreadable, dir: o.dir }));
}

function registerRetention(audit: Command): void {
  audit
    .command('retention')
    .description('archive sealed segments beyond the retention policy (dry run unless --apply)')
    .requiredOption('--dir <dir>', 'audit log directory')
    .option('--max-age-days <days>', 'archive segments whose newest record is older than this', numberFrom('--max-age-days', 0))
    .option('--max-records <n>', 'keep at least this many records live; archive older whole segments', integerFrom('--max-records', 0))
    .option('--delete-archived', 'delete archived segments instead of moving them to archive/')
    .option('--apply', 'archive now (the log must not be open for appending by another process)')
    .option('--key <key-or-file>', 'trusted verifier key or a file holding it')
    .option('--json', 'print the report as JSON')
    .action((o: { dir: string; maxAgeDays?: number; maxRecords?: number; deleteArchived?: boolean; apply?: boolean; key?: string; json?: boolean }) => {
      if (o.maxAgeDays === undefined && o.maxRecords === undefined) throw new UsageError(explain('cli.audit.retentionLimit'));
      requireLogDir(o.dir);
      const policy: RetentionPolicy = {
        ...(o.maxAgeDays !== undefined ? { maxAgeDays: o.maxAgeDays } : {}),
        ...(o.maxRecords !== undefined ? { maxRecords: o.maxRecords } : {}),
        ...(o.deleteArchived ? { deleteArchived: true } : {}),
      };
      const verifier = verifierFrom(o) ?? readStoredVerifierKey(o.dir);
      let report;
      if (o.apply) {
        const release = acquireLock(o.dir);
        try {
          report = enforceRetention(o.dir, policy, { verifier, now: Date.now() });
        } finally {
          release();
        }
      } else {
        const plan = planRetention(o.dir, policy, Date.now());
        report = { dryRun: true, archived: plan.candidates, boundary: plan.base + plan.candidates.reduce((a, c) => a + c.count, 0), liveRecords: plan.live };
      }
      if (o.json) {
        printJson(report);
        return;
      }
      const verb = report.dryRun ? 'would archive' : policy.deleteArchived ? 'archived and deleted' : 'archived';
      if (report.archived.length === 0) process.stdout.write('nothing to archive\n');
      for (const a of report.archived) process.stdout.write(`${verb} ${a.segment} (records ${a.first}..${a.first + a.count - 1}, newest ${a.newestTime}, by ${a.reason})\n`);
      process.stdout.write(`archive boundary ${report.boundary}, ${report.liveRecords} records live${report.dryRun ? ' (dry run: add --apply)' : ''}\n`);
    });
}

function registerKey(audit: Command): void {
  audit
    .command('key')
    .description('print the verifier key third parties use to check this log\'s checkpoints')
    .requiredOption('--dir <dir>', 'audit log directory')
    .action((o: { dir: string }) => {
      requireLogDir(o.dir);
      process.stdout.write(`${formatVerifierKey(readStoredVerifierKey(o.dir))}\n`);
    });
}

function parseActor(v: string): AuditActor {
  const m = /^(peer|operator|system):(.+)$/.exec(v);
  if (!m) throw new OptionValueError('cli.option.actor', { name: '--actor' });
  return { kind: m[1] as AuditActor['kind'], id: m[2]! };
}

function registerAppend(audit: Command): void {
  audit
    .command('append')
    .description('append one record (e.g. an operator action done outside erab), then checkpoint')
    .requiredOption('--dir <dir>', 'audit log directory (created with --origin if missing)')
    .requiredOption('--actor <kind:id>', 'who: peer:<id>, operator:<id> or system:<id>', parseActor)
    .requiredOption('--action <action>', 'dotted verb, e.g. operator.maintenance')
    .addOption(new Option('--outcome <outcome>', 'what happened').choices(['success', 'failure', 'refused']).makeOptionMandatory())
    .option('--target <target>', 'what it was done to')
    .option('--reason <reason>', 'why (never a secret)')
    .option('--origin <origin>', 'log origin (needed only to create a new log)')
    .action((o: { dir: string; actor: AuditActor; action: string; outcome: AuditOutcome; target?: string; reason?: string; origin?: string }) => {
      let origin = o.origin;
      if (!origin) {
        if (!existsSync(join(o.dir, VERIFIER_KEY_FILE))) throw new UsageError(explain('cli.audit.noLogYet', { dir: o.dir }));
        origin = readStoredVerifierKey(o.dir).name;
      }
      const log = AuditLog.open({ dir: o.dir, origin });
      try {
        const r = log.append({ actor: o.actor, action: o.action, outcome: o.outcome, ...(o.target ? { target: o.target } : {}), ...(o.reason ? { reason: o.reason } : {}) });
        process.stdout.write(`${r.index}\n`);
      } finally {
        log.close();
      }
    });
}

export function register(program: Command): void {
  const audit = program.command('audit').description('tamper-evident audit log: verify, prove, tail, export, retention');
  registerVerify(audit);
  registerProve(audit);
  registerTail(audit);
  registerExport(audit);
  registerRetention(audit);
  registerKey(audit);
  registerAppend(audit);
}
