/**
 * `erab pki ...`: the certificate authority of an erab deployment (ERAB cybersecurity
 * guideline §3.3: certificates for mutual authentication on R1–R4).
 *
 *   erab pki init    [--dir D] [--passphrase-file F] [--algorithm ec|rsa]
 *   erab pki issue   --role R --id I [--usage tls|code-signing] [--algorithm ec|rsa] [--days N] [--dns name...] [--ip addr...]
 *                    [--p12 F --p12-passphrase-file F2]   (also a PKCS#12 file for a browser)
 *   erab pki p12     [--role operator] --id I --out F [--p12-passphrase-file F2]   (PKCS#12 of the current one)
 *   erab pki revoke  --serial S | --role R --id I [--reason R]
 *   erab pki crl     [--days N]
 *   erab pki list    [--json]
 *   erab pki rotate  --role R --id I [--usage tls|code-signing] [--days N]
 *
 * The CA passphrase comes from --passphrase-file or ERAB_CA_PASSPHRASE, never from the command
 * line (it would end up in shell history and `ps`). Private keys are never printed. The same holds
 * for the PKCS#12 passphrase (--p12-passphrase-file or ERAB_P12_PASSPHRASE).
 */
import { Command, Option } from 'commander';
import { integerIn } from '../option-values.js';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { ErabError, explain, InvalidInputError } from '../../core/errors.js';
import { PARTICIPANT_ROLES, parseParticipant } from '../../security/identity.js';
import { CERTIFICATE_USAGES, DEFAULT_PKI_DIR, REVOCATION_REASONS, initCa, toPkcs12, checkPkcs12Passphrase, type CertificateUsage, openPki, type KeyAlgorithm, type RevocationReason, type StoredCertificate } from '../../security/pki/index.js';
import { UsageError } from '../usage.js';

interface CommonOpts {
  dir: string;
  passphraseFile?: string;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** Reads a passphrase: the file wins, then the environment variable, else none. */
function readPassphrase(file: string | undefined, envName: string): string | undefined {
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new InvalidInputError(explain('pki.passphraseUnreadable', { file, why: (err as NodeJS.ErrnoException).code ?? (err as Error).message }));
    }
    const p = text.replace(/\r?\n$/, '');
    if (p.length === 0) throw new InvalidInputError(explain('pki.passphraseEmpty', { file }));
    return p;
  }
  const env = process.env[envName];
  return env !== undefined && env !== '' ? env : undefined;
}

/** The CA passphrase: --passphrase-file wins, then ERAB_CA_PASSPHRASE, else none. */
export function passphrase(opts: { passphraseFile?: string | undefined }): string | undefined {
  return readPassphrase(opts.passphraseFile, 'ERAB_CA_PASSPHRASE');
}

function common(cmd: Command): Command {
  return cmd
    .option('--dir <dir>', 'PKI folder', DEFAULT_PKI_DIR)
    .option('--passphrase-file <file>', 'file holding the CA key passphrase (else $ERAB_CA_PASSPHRASE)');
}

function participantArgs(o: { role?: string; id?: string }): { role: string; id: string } {
  if (!o.role || !o.id) throw new UsageError(explain('pki.roleAndId'));
  try {
    return parseParticipant(o.role, o.id);
  } catch (err) {
    // A usage problem (exit 2) in the words of identity.ts, in the CLI's language when keyed.
    throw new UsageError(err instanceof ErabError && err.key ? explain(err.key, err.params) : (err as Error).message);
  }
}

function printIssued(c: StoredCertificate, verb: string): void {
  process.stdout.write(
    `${verb} ${c.role} ${c.id}${c.usage === 'tls' ? '' : ` (${c.usage})`}\n` +
      `  serial       ${c.serial}\n` +
      `  fingerprint  ${c.identity.fingerprint}\n` +
      `  algorithm    ${c.algorithm === 'ec' ? 'ECDSA P-256' : 'RSA 2048'}\n` +
      `  not after    ${c.notAfter.toISOString()}\n` +
      `  certificate  ${c.files.certFile}\n` +
      `  key (0600)   ${c.files.keyFile}\n` +
      `  chain        ${c.files.chainFile}\n` +
      `  CA           ${c.files.caFile}\n` +
      `  CRL          ${c.files.crlFile}\n`,
  );
}

const algorithmOption = (): Option => new Option('--algorithm <alg>', 'key type: ec = ECDSA P-256, rsa = RSA 2048').choices(['ec', 'rsa']).default('ec');
const roleOption = (): Option => new Option('--role <role>', 'participant role').choices([...PARTICIPANT_ROLES]);

/** Registers `erab pki`. */
export function register(program: Command): void {
  const pki = program.command('pki').description('certificate authority: issue, revoke and rotate participant certificates, publish the CRL');

  common(pki.command('init'))
    .description('create a new CA (ECDSA P-256 by default) and an empty CRL')
    .addOption(algorithmOption())
    .option('--common-name <cn>', 'CA common name')
    .option('--days <n>', 'CA validity in days', integerIn('--days', 1, 36500), 3650)
    .action(async (o: CommonOpts & { algorithm: KeyAlgorithm; commonName?: string; days: number }) => {
      const pass = passphrase(o);
      const store = await initCa({
        dir: o.dir,
        algorithm: o.algorithm,
        days: o.days,
        ...(o.commonName ? { commonName: o.commonName } : {}),
        ...(pass !== undefined ? { passphrase: pass } : {}),
      });
      process.stdout.write(
        `created CA in ${store.dir}\n  certificate  ${store.caCertFile}\n  key (0600)   ${store.caKeyFile}${pass !== undefined ? ' (encrypted)' : ' (NOT encrypted: set --passphrase-file or ERAB_CA_PASSPHRASE to protect it)'}\n  CRL          ${store.crlFile}\n`,
      );
    });

  common(pki.command('issue'))
    .description('issue a key pair and certificate for a participant (SAN URI urn:erab:<role>:<id>)')
    .addOption(roleOption().makeOptionMandatory())
    .requiredOption('--id <id>', 'participant id (letters, digits, . _ -; up to 64)')
    .addOption(new Option('--usage <usage>', 'tls (mutual TLS) or code-signing (a separate key that signs update packages and release manifests)').choices([...CERTIFICATE_USAGES]).default('tls'))
    .addOption(algorithmOption())
    .option('--days <n>', 'validity in days', integerIn('--days', 1, 3650), 365)
    .option('--dns <name>', 'DNS name for servers (repeatable; default localhost)', collect)
    .option('--ip <addr>', 'IP address for servers (repeatable; default 127.0.0.1 and ::1)', collect)
    .option('--p12 <file>', 'also write certificate, key and CA as a PKCS#12 file (to import into a browser)')
    .option('--p12-passphrase-file <file>', 'file holding the PKCS#12 passphrase (else $ERAB_P12_PASSPHRASE); at least 8 characters')
    .action(async (o: CommonOpts & { role: string; id: string; usage: CertificateUsage; algorithm: KeyAlgorithm; days: number; dns?: string[]; ip?: string[]; p12?: string; p12PassphraseFile?: string }) => {
      const who = participantArgs(o);
      if (o.usage === 'code-signing' && (o.dns || o.ip)) throw new UsageError(explain('pki.codeSigningHost'));
      if (o.usage === 'code-signing' && o.p12) throw new UsageError(explain('pki.codeSigningP12'));
      if (o.p12PassphraseFile && !o.p12) throw new UsageError(explain('pki.p12PassFileAlone'));
      // Read the PKCS#12 passphrase before issuing, so a missing one issues nothing.
      const p12Pass = o.p12 ? readPassphrase(o.p12PassphraseFile, 'ERAB_P12_PASSPHRASE') : undefined;
      if (o.p12 && p12Pass === undefined) throw new UsageError(explain('pki.p12NeedsPassphrase'));
      if (p12Pass !== undefined) checkPkcs12Passphrase(p12Pass);
      const store = await openPki({ dir: o.dir, ...passOpt(o) });
      const c = await store.issue({ ...who, usage: o.usage, algorithm: o.algorithm, days: o.days, ...(o.dns ? { dns: o.dns } : {}), ...(o.ip ? { ip: o.ip } : {}) });
      printIssued(c, 'issued');
      if (o.p12 && p12Pass !== undefined) await writePkcs12(c.files, `${c.role} ${c.id}`, o.p12, p12Pass);
    });

  common(pki.command('p12'))
    .description('write the current TLS certificate of a participant, its key and the CA as a PKCS#12 file (to import into a browser)')
    .addOption(roleOption().default('operator'))
    .requiredOption('--id <id>', 'participant id')
    .requiredOption('--out <file>', 'the .p12 file to write (mode 0600)')
    .option('--p12-passphrase-file <file>', 'file holding the PKCS#12 passphrase (else $ERAB_P12_PASSPHRASE); at least 8 characters')
    .action(async (o: CommonOpts & { role: string; id: string; out: string; p12PassphraseFile?: string }) => {
      const who = participantArgs(o);
      const pass = readPassphrase(o.p12PassphraseFile, 'ERAB_P12_PASSPHRASE');
      if (pass === undefined) throw new UsageError(explain('pki.exportNeedsPassphrase'));
      checkPkcs12Passphrase(pass);
      const store = await openPki({ dir: o.dir });
      const files = store.files(who.role, who.id);
      const current = store.list().filter((r) => r.role === who.role && r.id === who.id && (r.usage ?? 'tls') === 'tls').at(-1);
      if (!current) throw new InvalidInputError(explain('pki.noCurrent', { role: who.role, id: who.id, dir: o.dir }));
      if (current.status !== 'valid') throw new InvalidInputError(explain('pki.currentNotValid', { role: who.role, id: who.id, serial: current.serial, status: current.status }));
      await writePkcs12(files, `${who.role} ${who.id}`, o.out, pass);
    });

  common(pki.command('revoke'))
    .description('revoke a certificate (by serial, or the current one of a participant) and rewrite the CRL')
    .option('--serial <hex>', 'serial number')
    .addOption(roleOption())
    .option('--id <id>', 'participant id')
    .addOption(new Option('--reason <reason>', 'RFC 5280 reason').choices([...REVOCATION_REASONS]).default('unspecified'))
    .action(async (o: CommonOpts & { serial?: string; role?: string; id?: string; reason: RevocationReason }) => {
      if (o.serial && (o.role || o.id)) throw new UsageError(explain('pki.serialOrRole'));
      if (!o.serial && !o.role && !o.id) throw new UsageError(explain('pki.serialOrRoleMissing'));
      const target = o.serial ? { serial: o.serial } : participantArgs(o);
      const store = await openPki({ dir: o.dir, ...passOpt(o) });
      const serials = await store.revoke(target, o.reason);
      for (const s of serials) process.stdout.write(`revoked ${s} (${o.reason})\n`);
      process.stdout.write(`CRL rewritten: ${store.crlFile}\n`);
    });

  common(pki.command('crl'))
    .description('sign and write a fresh CRL of every revoked certificate')
    .option('--days <n>', 'days until nextUpdate', integerIn('--days', 1, 365), 30)
    .action(async (o: CommonOpts & { days: number }) => {
      const store = await openPki({ dir: o.dir, ...passOpt(o) });
      const r = await store.writeCrl({ days: o.days });
      process.stdout.write(`CRL #${r.crlNumber} with ${r.revoked} revoked certificate(s): ${r.file}\n`);
    });

  common(pki.command('list'))
    .description('list issued certificates: serial, role, id, fingerprint, notAfter, status')
    .option('--json', 'one JSON array on stdout')
    .action(async (o: CommonOpts & { json?: boolean }) => {
      const store = await openPki({ dir: o.dir });
      const rows = store.list();
      if (o.json) {
        process.stdout.write(`${JSON.stringify(rows.map((r) => ({ serial: r.serial, role: r.role, id: r.id, algorithm: r.algorithm, fingerprint: r.fingerprint, notAfter: r.notAfter, status: r.status, ...(r.reason ? { reason: r.reason, revokedAt: r.revokedAt } : {}) })), null, 2)}\n`);
        return;
      }
      const head = ['SERIAL', 'ROLE', 'ID', 'ALG', 'FINGERPRINT', 'NOT AFTER', 'STATUS'];
      const table = rows.map((r) => [r.serial, r.role, r.id, r.algorithm, r.fingerprint, r.notAfter.slice(0, 19) + 'Z', r.status + (r.reason ? ` (${r.reason})` : '')]);
      const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
      for (const row of [head, ...table]) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
    });

  common(pki.command('rotate'))
    .description('issue a new key and certificate for a participant, then revoke the old one (superseded)')
    .addOption(roleOption().makeOptionMandatory())
    .requiredOption('--id <id>', 'participant id')
    .addOption(new Option('--usage <usage>', 'which of its certificates').choices([...CERTIFICATE_USAGES]).default('tls'))
    .option('--days <n>', 'validity in days', integerIn('--days', 1, 3650))
    .action(async (o: CommonOpts & { role: string; id: string; usage: CertificateUsage; days?: number }) => {
      const who = participantArgs(o);
      const store = await openPki({ dir: o.dir, ...passOpt(o) });
      const c = await store.rotate({ ...who, usage: o.usage, ...(o.days ? { days: o.days } : {}) });
      printIssued(c, 'rotated');
      process.stdout.write(`  revoked      ${c.replaced} (superseded)\n`);
    });
}

/** Writes certificate, key and CA of `files` as a passphrase-protected PKCS#12 file (0600). */
async function writePkcs12(files: { certFile: string; keyFile: string; caFile: string }, who: string, out: string, passphrase: string): Promise<void> {
  const p12 = await toPkcs12({
    certPem: readFileSync(files.certFile, 'utf8'),
    keyPem: readFileSync(files.keyFile, 'utf8'),
    chainPem: readFileSync(files.caFile, 'utf8'),
    passphrase,
    friendlyName: `erab ${who}`,
  });
  writeFileSync(out, p12, { mode: 0o600 });
  chmodSync(out, 0o600); // `mode` applies only to a new file; an existing one may have been readable by others
  process.stdout.write(`  PKCS#12      ${out} (0600, passphrase-protected; import it into the browser)\n`);
}

function passOpt(o: CommonOpts): { passphrase?: string } {
  const p = passphrase(o);
  return p !== undefined ? { passphrase: p } : {};
}
