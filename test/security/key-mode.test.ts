/**
 * Key hygiene, as ssh does it: a private key file that group or others can access is refused
 * with a message naming the file, its mode and the fix; 0600 loads; the explicit override
 * (API option or ERAB_ALLOW_INSECURE_KEY_MODE=1) loads it and says so (a process warning, and an
 * audit record when a listener uses it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { CertificateAuthority, initCa, openPki, readPrivateKeyFile } from '../../src/security/pki/index.js';
import { createMutualTlsServer, loadTlsMaterial } from '../../src/security/tls.js';

const skip = process.platform === 'win32' ? 'POSIX file modes only' : false;

describe('private key files readable by group or others are refused', { skip }, () => {
  let dir: string;
  let files: { certFile: string; keyFile: string; caFile: string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'erab-keymode-'));
    const ca = await CertificateAuthority.create();
    const c = await ca.issue({ role: 'aggregator', id: 'AGG1' });
    files = { certFile: join(dir, 'agg.pem'), keyFile: join(dir, 'agg.key'), caFile: join(dir, 'ca.pem') };
    writeFileSync(files.certFile, c.certPem);
    writeFileSync(files.caFile, ca.certPem);
    writeFileSync(files.keyFile, c.keyPem, { mode: 0o600 });
  });
  after(() => {
    delete process.env.ERAB_ALLOW_INSECURE_KEY_MODE;
    rmSync(dir, { recursive: true, force: true });
  });

  it('0600 loads', async () => {
    chmodSync(files.keyFile, 0o600);
    const m = await loadTlsMaterial(files);
    assert.equal(m.identity.id, 'AGG1');
    assert.deepEqual(m.insecureKeyFiles, []);
  });

  for (const mode of [0o644, 0o640, 0o604]) {
    it(`mode ${mode.toString(8)} is refused with the file, its mode and the fix`, async () => {
      chmodSync(files.keyFile, mode);
      await assert.rejects(loadTlsMaterial(files), (err: Error) => {
        assert.ok(err.message.includes(files.keyFile), err.message);
        assert.ok(err.message.includes(`0${mode.toString(8)}`), err.message);
        assert.ok(err.message.includes(`chmod 600 ${files.keyFile}`), err.message);
        assert.match(err.message, /ERAB_ALLOW_INSECURE_KEY_MODE=1/);
        return true;
      });
      assert.throws(() => readPrivateKeyFile(files.keyFile), /chmod 600/);
    });
  }

  it('the override (API option) loads it, warns and is audited by a listener using it', async () => {
    chmodSync(files.keyFile, 0o644);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => { warnings.push(w); };
    process.on('warning', onWarning);
    try {
      const m = await loadTlsMaterial({ ...files, allowInsecureKeyMode: true });
      assert.deepEqual(m.insecureKeyFiles, [files.keyFile]);
      await new Promise((r) => setImmediate(r));
      assert.ok(warnings.some((w) => (w as Error & { code?: string }).code === 'ERAB_INSECURE_KEY_MODE' && w.message.includes(files.keyFile)), 'a process warning names the file');
      const audit = new MemoryAuditSink();
      createMutualTlsServer({ material: m, profile: 'R1', audit, allowList: { participants: [] } });
      const rec = audit.records.find((r) => r.action === 'tls.insecure_key_mode');
      assert.ok(rec, 'audited');
      assert.equal(rec.outcome, 'success');
      assert.deepEqual(rec.details?.files, [files.keyFile]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('the override (ERAB_ALLOW_INSECURE_KEY_MODE=1) loads it', async () => {
    chmodSync(files.keyFile, 0o644);
    process.env.ERAB_ALLOW_INSECURE_KEY_MODE = '1';
    try {
      const m = await loadTlsMaterial(files);
      assert.deepEqual(m.insecureKeyFiles, [files.keyFile]);
    } finally {
      delete process.env.ERAB_ALLOW_INSECURE_KEY_MODE;
    }
  });

  it('the CA key of a PKI folder is checked too', async () => {
    const pkiDir = join(dir, 'pki');
    await initCa({ dir: pkiDir });
    const caKey = join(pkiDir, 'ca', 'ca.key');
    chmodSync(caKey, 0o644);
    const pki = await openPki({ dir: pkiDir });
    await assert.rejects(pki.issue({ role: 'gateway', id: 'GW1' }), (err: Error) => err.message.includes(`chmod 600 ${caKey}`));
    chmodSync(caKey, 0o600);
    const ok = await openPki({ dir: pkiDir });
    const issued = await ok.issue({ role: 'gateway', id: 'GW1' });
    assert.equal(issued.id, 'GW1');
  });
});
