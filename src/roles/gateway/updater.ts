/**
 * The gateway's side of signed updates (自家用GL 7-1, ERAB §3.6): it learns the aggregator's
 * offers over R4 (src/endpoints/openadr/update-offers.ts), downloads a package, and before
 * anything is applied checks, in order:
 *   1. the download is the offered file (SHA-256 of the offer);
 *   2. the signature: ES256 by a **code-signing** certificate of its own aggregator, issued by
 *      our CA, valid, not revoked (src/security/pki/code-signing.ts);
 *   3. every file against its hash in the signed manifest;
 *   4. the target: a device of that class/maker here (firmware), or this gateway (config, software);
 *   5. the version is newer than the installed one (no downgrade; equal = already installed).
 * Then it applies, runs a health check, and rolls back when the check fails:
 *   - firmware: install over ECHONET Lite (the maker's install EPC, `echonet.firmwareInstallEpcs`),
 *     wait, read back version and fault status (0x88); wrong version or a fault → `rollback`
 *     command, read back again;
 *   - config: the managed file is replaced atomically (previous kept as `<file>.previous`), the
 *     new text must pass the caller's validation, else the previous file is restored;
 *   - software (the gateway's own erab): the release is staged in `updates.softwareDir`, checked
 *     on disk and by running it, made `current` (checked again there, else pointed back), and the
 *     gateway restarts into it (./software-release.ts).
 * Every step is an audit record (`gateway.update.*`), and each result is reported back to the
 * aggregator. A refused package never touches a device.
 */
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import type { Clock } from '../../core/clock.js';
import { describeError, ErabError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { silentLogger } from '../../core/logger.js';
import type { AuditSink } from '../../security/audit/types.js';
import type { TlsMaterial } from '../../security/tls.js';
import { writeFileAtomic } from '../../security/pki/store.js';
import { compareVersions, openPackage, sha256Hex, VERSION_PATTERN, type VerifiedPackage } from '../../endpoints/openadr/update-package.js';
import {
  offersReplySchema, UPDATE_OFFERS_PATH, UPDATE_PACKAGE_PATH, UPDATE_RESULT_PATH, type UpdateOffer, type UpdateResult,
} from '../../endpoints/openadr/update-offers.js';
import type { WitnessPost } from '../../security/audit/witness-client.js';
import type { EchonetSite } from './echonet-site.js';
import { join } from 'node:path';
import { checkRelease, currentRelease, rollbackRelease, stageRelease, switchRelease } from './software-release.js';

export interface GatewayUpdaterOptions {
  gatewayId: string;
  /** The aggregator whose code-signing certificate alone may sign our updates. */
  aggregatorId: string;
  /** Our TLS material: its CA certificates and (live) CRL are the trust of package signatures. */
  material: TlsMaterial;
  /** POST to the aggregator's R4 listener (mutual TLS); undefined = offline (install() only). */
  post?: WitnessPost | undefined;
  site: EchonetSite;
  audit: AuditSink;
  clock: Clock;
  /** Maker code (6 hex) → EPC of the maker's firmware install command. */
  installEpcs: Readonly<Record<string, number>>;
  /** Wait after an install before the health check, ms. */
  healthCheckMs: number;
  /** The managed configuration file a `config` package replaces. */
  configFile?: string | undefined;
  /** Checks a new configuration text (throws naming the field); the health check of a config update. */
  validateConfig?: ((text: string) => void) | undefined;
  /** Where the gateway's own software releases live (`software` packages; ./software-release.ts). */
  softwareDir?: string | undefined;
  /** The erab version this process runs (the installed version when no release was installed by a package). */
  softwareVersion?: string | undefined;
  /** A new software release is current: the gateway should restart into it (its launcher starts `current`). */
  onSoftwareSwitched?: ((version: string) => void) | undefined;
  /** Called after something was applied (the gateway uploads its inventory again). */
  onApplied?: (() => Promise<void>) | undefined;
  logger?: Logger | undefined;
}

const sleep = (clock: Clock, ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));

/**
 * @example
 * const updater = new GatewayUpdater({ gatewayId: 'GW1', aggregatorId: 'AGG1', material, post, site, audit, clock, installEpcs: { FFFFFE: 0xf1 }, healthCheckMs: 2000 });
 * await updater.check(); // learns offers, applies what is new, reports back
 */
export class GatewayUpdater {
  /** Offers already handled in this process (packageId@version#sha256), so a result is reported once. */
  private readonly handled = new Set<string>();
  private busy: Promise<UpdateResult[]> | undefined;
  /** A software release made current and not yet restarted into; `reporting` while check() owes results. */
  private switchedTo: string | undefined;
  private reporting = false;
  private readonly log: Logger;

  constructor(private readonly o: GatewayUpdaterOptions) {
    this.log = o.logger ?? silentLogger;
  }

  /** Asks the aggregator for offers and handles each new one; one check at a time. */
  check(): Promise<UpdateResult[]> {
    if (!this.busy) this.busy = this.checkOnce().finally(() => { this.busy = undefined; });
    return this.busy;
  }

  private async checkOnce(): Promise<UpdateResult[]> {
    const post = this.o.post;
    if (!post) return [];
    const reply = await post(UPDATE_OFFERS_PATH, '{}');
    // An aggregator without an updates folder has no such route: nothing is offered.
    if (reply.status === 404) return [];
    if (reply.status !== 200) throw new Error(`update offers: HTTP ${reply.status}`);
    const parsed = offersReplySchema.safeParse(JSON.parse(reply.body));
    if (!parsed.success) throw new Error(`update offers reply: ${parsed.error.issues[0]!.message}`);
    const out: UpdateResult[] = [];
    this.reporting = true;
    try {
      await this.handleOffers(parsed.data.offers, post, out);
    } finally {
      this.reporting = false;
      this.restartIfSwitched();
    }
    return out;
  }

  private async handleOffers(offers: readonly UpdateOffer[], post: WitnessPost, out: UpdateResult[]): Promise<void> {
    for (const offer of offers) {
      const key = `${offer.packageId}@${offer.version}#${offer.sha256}`;
      if (this.handled.has(key)) continue;
      this.handled.add(key);
      const results = await this.handleOffer(offer, post);
      for (const r of results) {
        out.push(r);
        await post(UPDATE_RESULT_PATH, JSON.stringify(r)).catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'update result not delivered'));
      }
    }
  }

  /** Asks for the restart into a release made current, once its result is reported. */
  private restartIfSwitched(): void {
    const v = this.switchedTo;
    if (v === undefined || this.reporting) return;
    this.switchedTo = undefined;
    this.o.onSoftwareSwitched?.(v);
  }

  private async handleOffer(offer: UpdateOffer, post: WitnessPost): Promise<UpdateResult[]> {
    const name = `${offer.packageId}@${offer.version}`;
    this.audit('gateway.update.offered', name, 'success', undefined, { sha256: offer.sha256, target: offer.target });
    const dl = await post(UPDATE_PACKAGE_PATH, JSON.stringify({ packageId: offer.packageId, version: offer.version }));
    if (dl.status !== 200) return [this.refused(offer.packageId, offer.version, `download failed: HTTP ${dl.status}`)];
    if (sha256Hex(dl.body) !== offer.sha256) return [this.refused(offer.packageId, offer.version, 'the download is not the offered package (SHA-256 differs)')];
    this.audit('gateway.update.downloaded', name, 'success', undefined, { sha256: offer.sha256, bytes: Buffer.byteLength(dl.body) });
    return this.install(dl.body);
  }

  /**
   * Verifies a package and applies it (what check() does with each download; also the offline
   * path). Returns one result per device (firmware) or one for the configuration.
   */
  async install(text: string): Promise<UpdateResult[]> {
    let pkg: VerifiedPackage;
    try {
      pkg = openPackage(text, {
        cas: this.o.material.caCerts, crl: this.o.material.revocation,
        // A certificate is valid in wall-clock time, as TLS judges it; the engine's clock may be
        // simulated (erab demo runs hours ahead or behind), which would refuse a fresh signer.
        signer: { role: 'aggregator', id: this.o.aggregatorId }, now: new Date(),
      });
    } catch (err) {
      const id = peekId(text);
      return [this.refused(id.packageId, id.version, describeError(err), err instanceof ErabError ? err.code : undefined)];
    }
    const m = pkg.manifest;
    this.audit('gateway.update.verified', `${m.packageId}@${m.version}`, 'success', undefined, { sha256: pkg.sha256, signer: `${pkg.signer.role}:${pkg.signer.id}`, signerSerial: pkg.signer.serial });
    const results = m.target.kind === 'device' ? await this.applyFirmware(pkg) : m.target.kind === 'software' ? [await this.applySoftware(pkg)] : [await this.applyConfig(pkg)];
    if (results.some((r) => r.outcome === 'applied' || r.outcome === 'rolled-back')) await this.o.onApplied?.().catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'inventory upload after update failed'));
    this.restartIfSwitched();
    return results;
  }

  // ------------------------------------------------------------------ firmware

  private async applyFirmware(pkg: VerifiedPackage): Promise<UpdateResult[]> {
    const m = pkg.manifest;
    const t = m.target.kind === 'device' ? m.target : undefined;
    const devices = [...this.o.site.resources()].filter((id) => {
      const rec = this.o.site.records().find((r) => r.deviceId === id);
      return rec !== undefined && this.o.site.isControllable(id)
        && (!t?.deviceClass || rec.class === t.deviceClass)
        && (!t?.makerCode || this.o.site.makerCodeOf(id) === t.makerCode)
        && (!t?.productCode || rec.identity.productCode === t.productCode);
    });
    if (devices.length === 0) {
      const r: UpdateResult = { packageId: m.packageId, version: m.version, outcome: 'not-applicable', reason: 'no admitted device here matches the target' };
      this.audit('gateway.update.not_applicable', `${m.packageId}@${m.version}`, 'success', r.reason, { target: m.target });
      return [r];
    }
    const image = m.files[0]!;
    const out: UpdateResult[] = [];
    for (const deviceId of devices) out.push(await this.updateDevice(pkg, deviceId, image.sha256));
    return out;
  }

  private async updateDevice(pkg: VerifiedPackage, deviceId: string, imageSha256: string): Promise<UpdateResult> {
    const m = pkg.manifest;
    const base = { packageId: m.packageId, version: m.version, deviceId };
    const name = `${m.packageId}@${m.version}`;
    const maker = this.o.site.makerCodeOf(deviceId) ?? '';
    const epc = this.o.installEpcs[maker];
    if (epc === undefined) return this.refused(m.packageId, m.version, `no firmware install EPC is configured for maker ${maker} (echonet.firmwareInstallEpcs)`, 'no_installer', deviceId);
    const before = await this.o.site.firmwareState(deviceId);
    const previous = before.firmwareVersion;
    if (previous === undefined || !VERSION_PATTERN.test(previous)) {
      return this.refused(m.packageId, m.version, `the installed firmware version of ${deviceId} is unknown (${previous ?? 'not readable'}), so a downgrade cannot be ruled out`, 'unknown_version', deviceId);
    }
    const cmp = compareVersions(m.version, previous);
    if (cmp < 0) return this.refused(m.packageId, m.version, `downgrade refused: ${deviceId} runs ${previous}, the package is ${m.version}`, 'downgrade', deviceId, previous);
    if (cmp === 0) return this.refused(m.packageId, m.version, `${deviceId} already runs ${previous}`, 'already_installed', deviceId, previous);

    this.audit('gateway.update.apply', deviceId, 'success', undefined, { package: name, from: previous, to: m.version });
    try {
      await this.o.site.firmwareCommand(deviceId, epc, `install ${m.version} ${imageSha256}`);
    } catch (err) {
      const r: UpdateResult = { ...base, outcome: 'failed', reason: `install refused by the device: ${describeError(err)}`, previousVersion: previous };
      this.audit('gateway.update.failed', deviceId, 'failure', r.reason, { package: name });
      return r;
    }
    await sleep(this.o.clock, this.o.healthCheckMs);
    const after = await this.o.site.firmwareState(deviceId).catch(() => ({ firmwareVersion: undefined, fault: undefined }));
    const healthy = after.firmwareVersion === m.version && after.fault === false;
    if (healthy) {
      this.audit('gateway.update.applied', deviceId, 'success', undefined, { package: name, from: previous, to: m.version });
      return { ...base, outcome: 'applied', previousVersion: previous, installedVersion: m.version };
    }
    const why = after.fault ? 'the device reports a fault (0x88) after the install' : `the device runs ${after.firmwareVersion ?? 'an unreadable version'} after the install, not ${m.version}`;
    this.audit('gateway.update.health_check_failed', deviceId, 'failure', why, { package: name });
    try {
      await this.o.site.firmwareCommand(deviceId, epc, 'rollback');
      await sleep(this.o.clock, this.o.healthCheckMs);
    } catch (err) {
      this.audit('gateway.update.rollback_failed', deviceId, 'failure', describeError(err), { package: name, to: previous });
      return { ...base, outcome: 'failed', reason: `${why}; rollback failed: ${describeError(err)}`, previousVersion: previous };
    }
    const restored = await this.o.site.firmwareState(deviceId).catch(() => ({ firmwareVersion: undefined, fault: undefined }));
    const ok = restored.firmwareVersion === previous && restored.fault === false;
    this.audit(ok ? 'gateway.update.rolled_back' : 'gateway.update.rollback_failed', deviceId, ok ? 'success' : 'failure', why, { package: name, to: previous, running: restored.firmwareVersion });
    return ok
      ? { ...base, outcome: 'rolled-back', reason: why, previousVersion: previous, installedVersion: previous }
      : { ...base, outcome: 'failed', reason: `${why}; after rollback the device runs ${restored.firmwareVersion ?? 'an unreadable version'}`, previousVersion: previous };
  }

  // ------------------------------------------------------------------ configuration

  private async applyConfig(pkg: VerifiedPackage): Promise<UpdateResult> {
    const m = pkg.manifest;
    const name = `${m.packageId}@${m.version}`;
    const t = m.target.kind === 'config' ? m.target : undefined;
    const file = this.o.configFile;
    if (t?.gatewayIds && !t.gatewayIds.includes(this.o.gatewayId)) return this.refused(m.packageId, m.version, `the package targets other gateways (${t.gatewayIds.join(', ')})`, 'wrong_target');
    if (!file) return this.refused(m.packageId, m.version, 'this gateway has no managed configuration file (updates.configFile)', 'no_config_file');
    if (m.files.length !== 1) return this.refused(m.packageId, m.version, 'a configuration package carries exactly one file', 'wrong_target');
    const versionFile = `${file}.version`;
    const previous = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim() : '0';
    if (compareVersions(m.version, previous) <= 0) return this.refused(m.packageId, m.version, `downgrade refused: configuration ${previous} is installed, the package is ${m.version}`, 'downgrade', undefined, previous);
    const text = pkg.files.get(m.files[0]!.name)!.toString('utf8');
    this.audit('gateway.update.apply', file, 'success', undefined, { package: name, from: previous, to: m.version });
    const backup = `${file}.previous`;
    const had = existsSync(file);
    if (had) copyFileSync(file, backup);
    writeFileAtomic(file, text, 0o600); // rename: readers see the old file or the new one, never half
    try {
      this.o.validateConfig?.(readFileSync(file, 'utf8'));
    } catch (err) {
      if (had) renameSync(backup, file);
      else rmSync(file, { force: true });
      this.audit('gateway.update.rolled_back', file, 'success', describeError(err), { package: name, to: previous });
      return { packageId: m.packageId, version: m.version, outcome: 'rolled-back', reason: `new configuration invalid: ${describeError(err)}`, previousVersion: previous, installedVersion: previous };
    }
    writeFileAtomic(versionFile, `${m.version}\n`);
    this.audit('gateway.update.applied', file, 'success', undefined, { package: name, from: previous, to: m.version });
    return { packageId: m.packageId, version: m.version, outcome: 'applied', previousVersion: previous, installedVersion: m.version };
  }

  // ------------------------------------------------------------------ the gateway's own software

  private async applySoftware(pkg: VerifiedPackage): Promise<UpdateResult> {
    const m = pkg.manifest;
    const name = `${m.packageId}@${m.version}`;
    const t = m.target.kind === 'software' ? m.target : undefined;
    const dir = this.o.softwareDir;
    if (t?.gatewayIds && !t.gatewayIds.includes(this.o.gatewayId)) return this.refused(m.packageId, m.version, `the package targets other gateways (${t.gatewayIds.join(', ')})`, 'wrong_target');
    if (!dir) return this.refused(m.packageId, m.version, 'this gateway has no software folder (updates.softwareDir)', 'no_software_dir');
    // The release must say it is erab at the signed version: what the health check and the inventory will read.
    let declared: { name?: unknown; version?: unknown } = {};
    try {
      declared = JSON.parse(pkg.files.get('package.json')?.toString('utf8') ?? '{}') as typeof declared;
    } catch {
      // refused below
    }
    if (declared.name !== 'erab' || declared.version !== m.version) {
      return this.refused(m.packageId, m.version, `a software package carries erab's package.json at the package's version (${m.version}); it has ${JSON.stringify(declared.name ?? null)}@${JSON.stringify(declared.version ?? null)}`, 'wrong_target');
    }
    const release = currentRelease(dir);
    const previous = release ?? this.o.softwareVersion;
    if (previous === undefined || !VERSION_PATTERN.test(previous)) {
      return this.refused(m.packageId, m.version, `the installed erab version is unknown (${previous ?? 'not readable'}), so a downgrade cannot be ruled out`, 'unknown_version');
    }
    const cmp = compareVersions(m.version, previous);
    if (cmp < 0) return this.refused(m.packageId, m.version, `downgrade refused: erab ${previous} is installed, the package is ${m.version}`, 'downgrade', undefined, previous);
    if (cmp === 0) return this.refused(m.packageId, m.version, `erab ${previous} is already installed`, 'already_installed', undefined, previous);
    const base = { packageId: m.packageId, version: m.version, previousVersion: previous };
    this.audit('gateway.update.apply', `software:${dir}`, 'success', undefined, { package: name, from: previous, to: m.version });
    let staged: string;
    try {
      staged = stageRelease(dir, { version: m.version, files: m.files, contents: pkg.files });
    } catch (err) {
      this.audit('gateway.update.failed', `software:${dir}`, 'failure', describeError(err), { package: name });
      return { ...base, outcome: 'failed', reason: `staging failed: ${describeError(err)}` };
    }
    const rolledBack = (why: string): UpdateResult => {
      this.audit('gateway.update.health_check_failed', `software:${dir}`, 'failure', why, { package: name });
      this.audit('gateway.update.rolled_back', `software:${dir}`, 'success', why, { package: name, to: previous });
      return { ...base, outcome: 'rolled-back', reason: why, installedVersion: previous };
    };
    const stagedProblem = await checkRelease(staged, m.version);
    if (stagedProblem) {
      rmSync(staged, { recursive: true, force: true });
      return rolledBack(`the staged release is not healthy: ${stagedProblem}`);
    }
    switchRelease(dir, m.version, new Date());
    const currentProblem = await checkRelease(join(dir, 'current'), m.version);
    if (currentProblem) {
      rollbackRelease(dir, release);
      return rolledBack(`the release is not healthy once current: ${currentProblem}`);
    }
    this.audit('gateway.update.applied', `software:${dir}`, 'success', undefined, { package: name, from: previous, to: m.version, restart: true });
    // The restart waits until the result has been reported (checkOnce), or install() returns.
    this.switchedTo = m.version;
    return { ...base, outcome: 'applied', installedVersion: m.version };
  }

  // ------------------------------------------------------------------ helpers

  private refused(packageId: string, version: string, reason: string, code?: string, deviceId?: string, previousVersion?: string): UpdateResult {
    this.audit('gateway.update.refused', deviceId ?? `${packageId}@${version}`, 'refused', reason, { package: `${packageId}@${version}`, ...(code ? { code } : {}) });
    this.log.warn({ package: `${packageId}@${version}`, reason }, 'update refused');
    return { packageId, version, outcome: 'refused', reason, ...(deviceId ? { deviceId } : {}), ...(previousVersion ? { previousVersion } : {}) };
  }

  private audit(action: string, target: string, outcome: 'success' | 'failure' | 'refused', reason?: string, details?: Record<string, unknown>): void {
    this.o.audit.append({ actor: { kind: 'system', id: this.o.gatewayId }, action, target, outcome, ...(reason ? { reason } : {}), ...(details ? { details } : {}) });
  }
}

/** Package id and version of a package we refused, for the result (best effort, never trusted). */
function peekId(text: string): { packageId: string; version: string } {
  try {
    const m = (JSON.parse(text) as { manifest?: { packageId?: unknown; version?: unknown } }).manifest;
    const id = typeof m?.packageId === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(m.packageId) ? m.packageId : 'unknown';
    const v = typeof m?.version === 'string' && VERSION_PATTERN.test(m.version) ? m.version : '0';
    return { packageId: id, version: v };
  } catch {
    return { packageId: 'unknown', version: '0' };
  }
}
