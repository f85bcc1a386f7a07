/**
 * A PKI world for tests: one call makes a CA with the real PKI (src/security/pki: `initCa`, the
 * same code `erab pki init` runs) in a temporary folder and issues named participants into it;
 * every participant has its PEMs, its files (key 0600, as the loader demands), and TlsMaterial
 * on request. Revocation goes through the store too, so the CRL file is the one `erab pki revoke`
 * would write. `close()` removes the folder.
 *
 * Layout: `<dir>/world-pki/` is the PKI folder (see src/security/pki/store.ts); `<dir>` itself is free
 * for the test's own files (configs, databases), so one `close()` cleans up everything.
 *
 * @example
 * const world = await pkiWorld({
 *   tso: 'tso:TSO1',
 *   agg: { role: 'aggregator', id: 'AGG1', algorithm: 'rsa' },
 *   old: { role: 'aggregator', id: 'AGG9', validity: 'expired' },
 *   gone: { role: 'gateway', id: 'GW9', revoked: 'keyCompromise' },
 * });
 * const server = createMutualTlsServer({ material: await world.material('tso'), profile: 'R1', audit }, handler);
 * const client = clientTlsOptions(await world.material('agg'), 'R1');
 * world.certs.agg.files.keyFile; // .../world-pki/issued/aggregator-AGG1/key.pem, mode 0600
 * after(() => world.close());
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  initCa,
  writeFileAtomic,
  type CertificateAuthority,
  type KeyAlgorithm,
  type ParticipantFiles,
  type PkiStore,
  type RevocationReason,
  type StoredCertificate,
} from '../../src/security/pki/index.js';
import { isParticipantRole, PARTICIPANT_ROLES, type ParticipantRole } from '../../src/security/identity.js';
import { loadTlsMaterial, type TlsMaterial } from '../../src/security/tls.js';

const DAY_MS = 86_400_000;

/** How a participant's certificate relates to now. */
export type Validity = 'valid' | 'expired' | 'not-yet-valid';

/** One participant to issue. The string form `"role:id"` means all defaults. */
export interface ParticipantSpec {
  role: ParticipantRole;
  id: string;
  /** Key type; default `ec` (ECDSA P-256). */
  algorithm?: KeyAlgorithm;
  /** `expired`: valid from 30 days ago to yesterday; `not-yet-valid`: from tomorrow; default `valid`. */
  validity?: Validity;
  /** Extra DNS names in the SAN (beside `localhost`). */
  dns?: string[];
  /** Extra IP addresses in the SAN (beside 127.0.0.1 and ::1). */
  ip?: string[];
  /** Revoke right after issuing (reason, or `true` for `unspecified`); the CRL file lists it. */
  revoked?: boolean | RevocationReason;
  /**
   * Mode of the key file; default 0600. Anything group- or world-readable is refused by the
   * loader unless allowInsecureKeyMode is set: only the key-mode tests want that.
   */
  keyMode?: number;
}

/** Options of {@link pkiWorld}. */
export interface WorldOptions {
  /** Name prefix of the temporary folder; default `erab-test-`. */
  prefix?: string;
  /** The CA: key type (default ec), common name, validity in days, passphrase for its key file. */
  ca?: { algorithm?: KeyAlgorithm; commonName?: string; days?: number; passphrase?: string };
  /**
   * Also write `<dir>/ca.pem` and, per participant, `<dir>/<name>.pem` and `<dir>/<name>.key`
   * (0600), for tests whose configurations or command lines name files by hand. Copies: the CRL
   * is only at {@link PkiWorld.crlFile}.
   */
  flatFiles?: boolean;
}

/** Options of {@link PkiWorld.material}. */
export interface MaterialOptions {
  /** Load the CRL file (default true, as every deployment does). */
  crl?: boolean;
  /** More credentials of the same endpoint, e.g. an RSA certificate beside the ECDSA one. */
  extra?: string[];
  /** Load key files with loose modes (key-mode tests only). */
  allowInsecureKeyMode?: boolean;
}

/** An issued participant: the PEMs (keyPem is secret), its files, and its name in the world. */
export interface WorldParticipant extends StoredCertificate {
  /** The name it was issued under (`tso`, `agg`...). */
  name: string;
  /** False for a second certificate of a participant that already holds one (not in the index). */
  indexed: boolean;
}

/** What {@link pkiWorld} returns; see the file header. */
export class PkiWorld<N extends string = string> {
  /** Participants by name. */
  readonly certs = {} as Record<N, WorldParticipant>;

  constructor(
    /** The temporary folder; free for the test's own files too. Removed by close(). */
    readonly dir: string,
    /** The PKI store, for tests of the store's own behaviour (rotate, list, writeCrl). */
    readonly store: PkiStore,
    readonly passphrase: string | undefined,
    private readonly flatFiles = false,
  ) {
    if (flatFiles) writeFileAtomic(join(dir, 'ca.pem'), store.caCertPem());
  }

  /** The CA certificate, PEM. */
  get caPem(): string { return this.store.caCertPem(); }
  /** The CA certificate file (give it to every peer as `caFile`). */
  get caFile(): string { return this.store.caCertFile; }
  /** The CA key file (encrypted when the world has a passphrase). */
  get caKeyFile(): string { return this.store.caKeyFile; }
  /** The CRL file, rewritten by every revoke. */
  get crlFile(): string { return this.store.crlFile; }
  /** The PKI folder (`--dir` of `erab pki`). */
  get pkiDir(): string { return this.store.dir; }

  /** The CA with its signing key, for tests that sign something odd (a stale CRL...). */
  authority(): Promise<CertificateAuthority> { return this.store.authority(); }

  /** A participant by name (or the participant holding a certificate); throws naming the known ones. */
  get(name: N | string | { serial: string }): WorldParticipant {
    const all = Object.values(this.certs) as WorldParticipant[];
    const p = typeof name === 'string' ? (this.certs as Record<string, WorldParticipant>)[name] : all.find((c) => c.serial === name.serial);
    if (!p) throw new Error(`no participant ${typeof name === 'string' ? `"${name}"` : `with serial ${name.serial}`} in this PKI world (have: ${Object.keys(this.certs).join(', ') || 'none'})`);
    return p;
  }

  /**
   * Issues one more participant under `name`. A participant that already holds a valid
   * certificate (e.g. an RSA one beside its ECDSA one) gets a second certificate signed by the
   * same CA, written under `<pki>/extra/<name>/` but not entered in the index.
   * @example const intruder = await world.issue('intruder', 'gateway:GW9');
   */
  async issue<M extends string>(name: M, spec: ParticipantSpec | `${ParticipantRole}:${string}`): Promise<WorldParticipant> {
    if ((this.certs as Record<string, unknown>)[name]) throw new Error(`participant "${name}" already issued in this PKI world`);
    const s = typeof spec === 'string' ? parseSpec(spec) : spec;
    const params = {
      role: s.role,
      id: s.id,
      ...(s.algorithm ? { algorithm: s.algorithm } : {}),
      ...(s.dns ? { dns: ['localhost', ...s.dns] } : {}),
      ...(s.ip ? { ip: ['127.0.0.1', '::1', ...s.ip] } : {}),
      ...validityDates(s.validity ?? 'valid'),
    };
    let issued: StoredCertificate;
    let indexed = true;
    const holder = this.store.list().find((r) => r.role === s.role && r.id === s.id && r.status === 'valid');
    if (holder) {
      indexed = false;
      const c = await (await this.authority()).issue(params);
      const dir = join(this.store.dir, 'extra', name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const files: ParticipantFiles = {
        dir, certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem'), chainFile: join(dir, 'chain.pem'),
        caFile: this.caFile, crlFile: this.crlFile,
      };
      writeFileAtomic(files.keyFile, c.keyPem, 0o600);
      writeFileAtomic(files.certFile, c.certPem);
      writeFileAtomic(files.chainFile, c.chainPem);
      issued = { ...c, files };
    } else {
      issued = await this.store.issue(params);
    }
    if (this.flatFiles) {
      writeFileAtomic(join(this.dir, `${name}.pem`), issued.certPem);
      writeFileAtomic(join(this.dir, `${name}.key`), issued.keyPem, 0o600);
    }
    if (s.keyMode !== undefined) chmodSync(issued.files.keyFile, s.keyMode);
    const p: WorldParticipant = { ...issued, name, indexed };
    (this.certs as Record<string, WorldParticipant>)[name] = p;
    if (s.revoked) await this.revoke(name, s.revoked === true ? 'unspecified' : s.revoked);
    return p;
  }

  /**
   * Revokes a participant's certificate (as `erab pki revoke --serial` does) and rewrites the
   * CRL file; endpoints loaded with the CRL file pick it up.
   * @example await world.revoke('agg', 'keyCompromise');
   */
  async revoke(name: N | string | { serial: string }, reason: RevocationReason = 'unspecified'): Promise<void> {
    const p = this.get(name);
    if (!p.indexed) throw new Error(`participant "${p.name}" is a second certificate outside the PKI index; issue it under its own role:id to revoke it`);
    await this.store.revoke({ serial: p.serial }, reason);
  }

  /**
   * TlsMaterial of a participant, loaded from its files (with the CRL file unless told
   * otherwise), as a role process loads it.
   * @example const vtn = await world.material('tso', { extra: ['tsoRsa'] }); // ECDSA + RSA
   */
  material(name: N | string | { serial: string }, opts: MaterialOptions = {}): Promise<TlsMaterial> {
    const p = this.get(name);
    return loadTlsMaterial({
      certFile: p.files.certFile,
      keyFile: p.files.keyFile,
      caFile: this.caFile,
      ...(opts.crl === false ? {} : { crlFile: this.crlFile }),
      ...(opts.extra ? { extra: opts.extra.map((n) => ({ certFile: this.get(n).files.certFile, keyFile: this.get(n).files.keyFile })) } : {}),
      ...(opts.allowInsecureKeyMode !== undefined ? { allowInsecureKeyMode: opts.allowInsecureKeyMode } : {}),
    });
  }

  /**
   * The file names a role's configuration takes (`tls: world.tlsFiles('agg')`): certFile,
   * keyFile, caFile and crlFile.
   */
  tlsFiles(name: N | string | { serial: string }): { certFile: string; keyFile: string; caFile: string; crlFile: string } {
    const p = this.get(name);
    return { certFile: p.files.certFile, keyFile: p.files.keyFile, caFile: this.caFile, crlFile: this.crlFile };
  }

  /** Removes the temporary folder and everything in it. Safe to call twice. */
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function parseSpec(s: string): ParticipantSpec {
  const i = s.indexOf(':');
  const role = s.slice(0, i);
  if (i < 0 || !isParticipantRole(role)) throw new Error(`participant "${s}" must be "role:id" with a role of ${PARTICIPANT_ROLES.join(', ')}`);
  return { role, id: s.slice(i + 1) };
}

function validityDates(v: Validity): { notBefore?: Date; notAfter?: Date } {
  const now = Date.now();
  switch (v) {
    case 'valid': return {};
    case 'expired': return { notBefore: new Date(now - 30 * DAY_MS), notAfter: new Date(now - DAY_MS) };
    case 'not-yet-valid': return { notBefore: new Date(now + DAY_MS), notAfter: new Date(now + 30 * DAY_MS) };
    default: throw new Error(`validity "${v as string}" must be valid, expired or not-yet-valid`);
  }
}

/**
 * Makes a CA in a fresh temporary folder and issues `participants` (name → spec), in order.
 * Close it in the test's `after` (or `finally`).
 * @example
 * const world = await pkiWorld({ tso: 'tso:TSO1', agg: 'aggregator:AGG1' }, { prefix: 'erab-tso-' });
 * const tsoMaterial = await world.material('tso');
 */
export async function pkiWorld<N extends string = never>(
  participants: Record<N, ParticipantSpec | `${ParticipantRole}:${string}`> = {} as Record<N, ParticipantSpec>,
  opts: WorldOptions = {},
): Promise<PkiWorld<N>> {
  const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'erab-test-'));
  try {
    const ca = opts.ca ?? {};
    const store = await initCa({
      dir: join(dir, 'world-pki'),
      ...(ca.algorithm ? { algorithm: ca.algorithm } : {}),
      ...(ca.commonName ? { commonName: ca.commonName } : {}),
      ...(ca.days ? { days: ca.days } : {}),
      ...(ca.passphrase !== undefined ? { passphrase: ca.passphrase } : {}),
    });
    const world = new PkiWorld<N>(dir, store, ca.passphrase, opts.flatFiles);
    for (const [name, spec] of Object.entries(participants) as [N, ParticipantSpec | `${ParticipantRole}:${string}`][]) {
      await world.issue(name, spec);
    }
    return world;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
