/**
 * A small live deployment for the compliance tests: a TSO, an aggregator (upstream TSO, retailer and
 * coordinator; downstream gateways) and a gateway, with certificates from the test PKI, config
 * files, audit logs with records, the aggregator's store with registrations and a portfolio, and
 * the TSO's store with the aggregator's registration, vulnerability management (a recent feed
 * import, one fresh finding), syslog streaming, health listeners, the update channel, the site's
 * personal data sealed under a 0600 key-encryption key, and a fresh signed backup of the aggregator
 * and the TSO (erab backup) in the declared backup folder. Every check is satisfied on it, except
 * continuity.active-standby (SQLite: one process).
 */
import { aggregatorMigrations } from '../../src/roles/aggregator/runtime/r4-workers.js';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { secopsMigrations } from '../../src/secops/tables.js';
import { composeMigrations } from '../../src/store/migrations.js';
import { join } from 'node:path';
import { pkiWorld, type PkiWorld } from '../kit/index.js';
import { AuditLog } from '../../src/security/audit/log.js';
import { openStore, type Store } from '../../src/store/store.js';
import { openadrStoreMigrations } from '../../src/endpoints/openadr/store.js';
import { createBackup } from '../../src/secops/backup/backup.js';
import { FileKeyring, newKekText } from '../../src/security/privacy/keyring.js';
import { PersonalDataVault } from '../../src/store/vault.js';
import { siteSubject } from '../../src/roles/aggregator/portfolio/tables.js';
import { complianceProfileSchema, type ComplianceProfile, type ComplianceProfileInput } from '../../src/compliance/profile.js';

export interface Deployment {
  world: PkiWorld;
  dir: string;
  files: { aggregator: string; tso: string; gateway: string };
  /** Rewrites a config file with `edit` applied to its JSON. */
  editConfig(which: 'aggregator' | 'tso' | 'gateway', edit: (cfg: any) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  profile(extra?: Partial<ComplianceProfileInput>): ComplianceProfile;
  aggStore: Store<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  tsoStore: Store<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  auditDirs: { aggregator: string; tso: string; gateway: string };
  /** The key-encryption key the site's personal data is sealed under (mode 0600). */
  kekFile: string;
  /** The backup folder and the passphrase file of the archives in it. */
  backups: { dir: string; passphraseFile: string; files: { aggregator: string; tso: string } };
  /** Writes a new archive of a role (as `erab backup`) made at `created`; returns its file. */
  backup(role: 'aggregator' | 'tso', opts?: { created?: Date; file?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function deployment(opts: { gateways?: number; aggStoreUrl?: string; aggStoreSchema?: string } = {}): Promise<Deployment> {
  const world = await pkiWorld({ tso: 'tso:TSO1', agg: 'aggregator:AGG1', gw: 'gateway:GW1' });
  const dir = world.dir;
  const agg = world.get('agg').files; const tso = world.get('tso').files; const gw = world.get('gw').files;
  const auditDirs = { aggregator: join(dir, 'agg-audit'), tso: join(dir, 'tso-audit'), gateway: join(dir, 'gw-audit') };
  for (const [k, d] of Object.entries(auditDirs)) {
    const log = AuditLog.open({ dir: d, origin: `erab.test/${k}/audit` });
    for (let i = 0; i < 5; i++) log.append({ actor: { kind: 'system', id: k }, action: 'test.record', outcome: 'success', details: { i } });
    log.close();
  }
  const aggDb = opts.aggStoreUrl ?? join(dir, 'aggregator.db');
  const updatesDir = join(dir, 'updates');
  mkdirSync(updatesDir, { recursive: true });
  const syslog = { host: '127.0.0.1', port: 6514 };
  const configs = {
    aggregator: {
      id: 'AGG1', tls: { certFile: agg.certFile, keyFile: agg.keyFile, caFile: world.caFile, crlFile: world.crlFile },
      store: { url: aggDb }, audit: { dir: auditDirs.aggregator, witnessIntervalMs: 300_000 },
      downstream: { allowList: { roles: ['gateway'] } },
      updates: { dir: updatesDir }, syslog, console: { port: 0 },
      upstream: [
        { name: 'tso', kind: 'tso', vtnUrl: 'https://127.0.0.1:8443', expect: { role: 'tso', id: 'TSO1' } },
        { name: 'retailer', kind: 'retailer', vtnUrl: 'https://127.0.0.1:8445', expect: { role: 'retailer', id: 'RET1' } },
        { name: 'coord', kind: 'coordinator', vtnUrl: 'https://127.0.0.1:8446', expect: { role: 'aggregator', id: 'AC1' } },
      ],
    },
    tso: {
      id: 'TSO1', kind: 'tso', tls: { certFile: tso.certFile, keyFile: tso.keyFile, caFile: world.caFile, crlFile: world.crlFile },
      store: { url: join(dir, 'tso.db') }, audit: { dir: auditDirs.tso }, contractedAggregators: [{ id: 'AGG1' }], syslog,
    },
    gateway: {
      gatewayId: 'GW1', database: join(dir, 'gw.db'), audit: { dir: auditDirs.gateway },
      tls: { certFile: gw.certFile, keyFile: gw.keyFile, caFile: world.caFile, crlFile: world.crlFile },
      aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:8444', certificateFile: agg.certFile },
      admission: { allowList: [{ identificationNumber: 'FE000006AABBCCDD' }, { makerCode: '000006', serialNumber: 'SN1' }] },
      syslog, operator: { port: 0 },
    },
  };
  const files = { aggregator: join(dir, 'aggregator.json'), tso: join(dir, 'tso.json'), gateway: join(dir, 'gateway.json') };
  for (const k of Object.keys(files) as (keyof typeof files)[]) writeFileSync(files[k], JSON.stringify(configs[k], null, 2));

  const aggStore = await openStore<any>({ url: aggDb, migrations: composeMigrations(aggregatorMigrations, secopsMigrations), ...(opts.aggStoreSchema ? { schema: opts.aggStoreSchema } : {}) }); // eslint-disable-line @typescript-eslint/no-explicit-any
  const n = opts.gateways ?? 3;
  const now = Date.now();
  // The household's name and address sealed by the vault, as `portfolio import` with ERAB_PRIVACY_KEK_FILE writes them.
  const kekFile = join(dir, 'privacy-kek.key');
  writeFileSync(kekFile, newKekText(), { mode: 0o600 });
  const vault = new PersonalDataVault(FileKeyring.fromFiles(kekFile));
  const [sealed] = await vault.sealMany(aggStore.db, [{ subject: siteSubject('S1'), fields: { name: 'Sato household', address: '1-2-3 Chiyoda, Tokyo' } }]);
  await aggStore.db.insertInto('portfolio_site').values({ id: 'S1', name: sealed!.name, tso_area: 'tokyo', address: sealed!.address, pool_id: null, created_at: now, updated_at: now }).execute();
  for (let i = 0; i < n; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, n - i) }, (_, j) => i + j);
    await aggStore.db.insertInto('openadr_vtn_registration').values(chunk.map((k) => ({
      vtn_id: 'AGG1-vtn', ven_id: `GW${k}`, fingerprint: `fp${k}`,
      data: JSON.stringify({ registrationID: `r${k}`, venID: `GW${k}`, venName: `GW${k}`, xmlSignature: true, fingerprint: `fp${k}` }),
    }))).execute();
    await aggStore.db.insertInto('portfolio_resource').values(chunk.map((k) => ({
      id: `D${k}`, site_id: 'S1', gateway_id: null, pool_id: null, class: 'battery', name: `battery ${k}`,
      capacity_w: 3000, capacity_wh: 10000, max_charge_w: 3000, max_discharge_w: 3000, max_reduce_w: 3000, max_increase_w: 3000,
      constraints: '{}', echonet_class: '027D', maker_code: '000006', product_code: 'BAT-1', serial_number: `SN${k}`,
      firmware_version: '1.0.0', standard_version: 'L', installation_location: 'garage', admission: 'admitted', present: 1, source: 'inventory',
      search_text: `d${k}`, created_at: now, updated_at: now,
    }))).execute();
  }
  // Vulnerability management: advisories imported an hour ago, one high finding found a day ago (deadline 30 d).
  await aggStore.db.insertInto('secops_feed_import').values({ format: 'nvd', source: 'nvdcve-2.0-recent.json', sha256: '0'.repeat(64), bytes: 1000, imported_at: now - 3_600_000, records: 1, added: 1, updated: 0, unchanged: 0, actor: 'op-test' }).execute();
  await aggStore.db.insertInto('secops_finding').values({
    id: 'F-high', asset_id: 'device:D0', advisory_uid: 'nvd:CVE-2026-10001', status: 'open', confidence: 'high', match_kind: 'cpe', matched_version: '1.0.0',
    affected_range: '<1.1.0', cvss_vector: null, cvss_score: 8.1, known_exploited: 0, fix: null, site_id: 'S1', gateway_id: null,
    accepted_reason: null, accepted_by: null, accepted_until: null, status_reason: 'matched', status_by: 'secops.matching', first_found: now - 86_400_000, updated_at: now,
  }).execute();
  const tsoStore = await openStore<any>({ url: configs.tso.store.url, migrations: openadrStoreMigrations }); // eslint-disable-line @typescript-eslint/no-explicit-any
  await tsoStore.db.insertInto('openadr_vtn_registration').values({ vtn_id: 'TSO1', ven_id: 'AGG1', fingerprint: 'fpagg', data: JSON.stringify({ venID: 'AGG1', xmlSignature: true }) }).execute();

  // Backups as `erab backup --role R --config F --out DIR/...` writes them.
  const backupDir = join(dir, 'backups');
  mkdirSync(backupDir, { recursive: true });
  const passphraseFile = join(dir, 'backup-passphrase');
  writeFileSync(passphraseFile, 'correct horse battery staple\n', { mode: 0o600 });
  const specs = {
    aggregator: { role: 'aggregator' as const, id: 'AGG1', database: { url: aggDb, ...(opts.aggStoreSchema ? { schema: opts.aggStoreSchema } : {}) }, auditDir: auditDirs.aggregator, tls: { certFile: agg.certFile, keyFile: agg.keyFile, caFile: world.caFile } },
    tso: { role: 'tso' as const, id: 'TSO1', database: { url: configs.tso.store.url }, auditDir: auditDirs.tso, tls: { certFile: tso.certFile, keyFile: tso.keyFile, caFile: world.caFile } },
  };
  let serial = 0;
  const backup = async (role: 'aggregator' | 'tso', o: { created?: Date; file?: string } = {}): Promise<string> => {
    const r = await createBackup(specs[role], 'correct horse battery staple', o.created ?? new Date());
    const file = o.file ?? join(backupDir, `${role}-${++serial}.erab-backup`);
    writeFileSync(file, r.archive, { mode: 0o600 });
    return file;
  };
  const backupFiles = { aggregator: await backup('aggregator'), tso: await backup('tso') };

  return {
    world, dir, files, aggStore, tsoStore, auditDirs, kekFile, backup,
    backups: { dir: backupDir, passphraseFile, files: backupFiles },
    editConfig(which, edit) {
      const cfg = JSON.parse(readFileSync(files[which], 'utf8'));
      edit(cfg);
      writeFileSync(files[which], JSON.stringify(cfg, null, 2));
    },
    profile(extra = {}) {
      return complianceProfileSchema.parse({
        participant: { id: 'AGG1', name: 'Test participant' }, roles: ['tso', 'aggregator', 'ems'], kubun: 'A',
        configs: { ...files }, store: join(dir, 'compliance.db'), audit: { dir: join(dir, 'compliance-audit') },
        signing: { keyFile: agg.keyFile, certFile: agg.certFile },
        backups: { dir: backupDir, passphraseFile }, privacy: { kekFile }, ...extra,
      });
    },
    async close() {
      await aggStore.close(); await tsoStore.close();
      await world.close();
    },
  };
}
