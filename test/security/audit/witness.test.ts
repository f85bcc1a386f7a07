/**
 * The audit witness (C2SP tlog-witness add-checkpoint, tlog-cosignature cosignature/v1) behind a
 * real OpenADR listener: mutual TLS with certificates from our CA, the VTN's allow-list, both
 * HTTP transports (the lean HTTP/1 server and node:https). A participant's log is cosigned as it
 * grows; a log restored from an older copy, or rewritten, is refused and is a security event at
 * the witness. The cosignature format is checked with plain node:crypto.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { clientTlsOptions } from '../../../src/security/tls.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { AuditWitness, formatAddCheckpointRequest, parseAddCheckpointRequest, WITNESS_ADD_CHECKPOINT_PATH } from '../../../src/security/audit/witness.js';
import { CheckpointWitnessing } from '../../../src/security/audit/witness-client.js';
import { generateSigner, formatVerifierKey } from '../../../src/security/audit/note.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { openadrStoreMigrations } from '../../../src/endpoints/openadr/store.js';
import { startVtnEndpoint, type RunningVtn } from '../../../src/endpoints/openadr/vtn-endpoint.js';
import { httpsWitnessPost, witnessRoutes } from '../../../src/roles/common/witnessing.js';
import { pkiWorld, type PkiWorld } from '../../kit/index.js';

const WITNESS = 'erab.test/aggregator-AGG1/witness';
const rec = (i: number, tag = 'r') => ({ actor: { kind: 'system' as const, id: 'gw' }, action: 'gateway.test', target: `${tag}-${i}`, outcome: 'success' as const });

let world: PkiWorld<'agg' | 'gw' | 'gw2'>;
let aggCert: IssuedCertificate;
let gwCert: IssuedCertificate;
let gw2Cert: IssuedCertificate;
let root: string;

before(async () => {
  world = await pkiWorld({ agg: 'aggregator:AGG1', gw: 'gateway:GW1', gw2: 'gateway:GW2' }, { prefix: 'erab-witness-' });
  ({ agg: aggCert, gw: gwCert, gw2: gw2Cert } = world.certs);
  root = world.dir;
});
after(() => world?.close());

const material = (c: IssuedCertificate) => world.material(c);

describe('cosignature/v1 format (checked with node:crypto only)', () => {
  it('key id uses type 0x04, and the line is key id || u64 timestamp || Ed25519 over "cosignature/v1\\ntime T\\n" + checkpoint', () => {
    const dir = join(root, 'format');
    const log = AuditLog.open({ dir: join(dir, 'log'), origin: 'erab.test/format/audit' });
    log.append(rec(0));
    const cp = log.checkpoint()!;
    const w = AuditWitness.open({ dir: join(dir, 'w'), name: WITNESS, audit: new MemoryAuditSink(), clock: { now: () => 1_700_000_000_123, setTimeout: () => ({ cancel() {} }) } as never });
    const peer = { id: 'GW1', role: 'gateway', fingerprint: 'x' };
    w.registerLogKey(peer, log.verifierKey);
    const reply = w.addCheckpoint(peer, formatAddCheckpointRequest({ oldSize: 0, proof: [], note: cp.note }));
    log.close();
    assert.equal(reply.status, 200, reply.body);
    const m = /^\u2014 (\S+) (\S+)\n$/.exec(reply.body);
    assert.ok(m, reply.body);
    assert.equal(m[1], WITNESS);
    const raw = Buffer.from(m[2]!, 'base64');
    assert.equal(raw.length, 4 + 8 + 64);
    const [name, idHex, keyB64] = [w.verifierKey.split('+')[0]!, w.verifierKey.split('+')[1]!, w.verifierKey.split('+').slice(2).join('+')];
    const key = Buffer.from(keyB64, 'base64');
    assert.equal(key[0], 0x04);
    const expectedId = createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([0x04]), key.subarray(1)])).digest().subarray(0, 4).toString('hex');
    assert.equal(idHex, expectedId);
    assert.equal(raw.subarray(0, 4).toString('hex'), expectedId);
    assert.equal(raw.readBigUInt64BE(4), 1_700_000_000n);
    const text = cp.note.slice(0, cp.note.lastIndexOf('\n\n') + 1);
    const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.subarray(1).toString('base64url') }, format: 'jwk' });
    assert.ok(edVerify(null, Buffer.from(`cosignature/v1\ntime 1700000000\n${text}`), pub, raw.subarray(12)));
  });

  it('the add-checkpoint body is parsed strictly', () => {
    const note = 'o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 o AAAA\n';
    const h = Buffer.alloc(32, 7);
    assert.deepEqual(parseAddCheckpointRequest(formatAddCheckpointRequest({ oldSize: 3, proof: [h], note })), { oldSize: 3, proof: [h], note });
    assert.throws(() => parseAddCheckpointRequest(`old 03\n\n${note}`), /old <size>/);
    assert.throws(() => parseAddCheckpointRequest(`old 1\nnot-base64\n\n${note}`), /proof line 1/);
    assert.throws(() => parseAddCheckpointRequest(`old 1\n${`${h.toString('base64')}\n`.repeat(64)}\n${note}`), /at most 63/);
  });
});

// Every OpenADR listener is the HTTP/1 fast path (src/endpoints/openadr/listener.ts); node:https is gone.
for (const http of ['lean'] as const) {
  describe(`witness on the aggregator's OpenADR listener (HTTP/1 fast path)`, () => {
    let store: Store;
    let vtn: RunningVtn;
    let witness: AuditWitness;
    let witnessAudit: MemoryAuditSink;
    let dir: string;

    before(async () => {
      dir = join(root, http);
      mkdirSync(dir, { recursive: true });
      store = await openStore({ url: join(dir, 'vtn.db'), migrations: openadrStoreMigrations });
      witnessAudit = new MemoryAuditSink();
      witness = AuditWitness.open({ dir: join(dir, 'witness'), name: WITNESS, audit: witnessAudit });
      vtn = await startVtnEndpoint({
        vtnID: 'AGG1-vtn', material: await material(aggCert), profile: 'R4', allowList: { participants: ['gateway:GW1', 'gateway:GW2'] },
        audit: witnessAudit, store, routes: witnessRoutes(witness),
      });
    });
    after(async () => {
      await vtn.close();
      await store.close();
    });

    async function client(cert: IssuedCertificate, logDir: string, origin: string) {
      const log = AuditLog.open({ dir: logDir, origin, checkpointIntervalMs: 0 });
      const tls = clientTlsOptions(await material(cert), 'R4', { expect: { role: 'aggregator', id: 'AGG1' } });
      const transport = httpsWitnessPost(vtn.url, tls);
      const w = new CheckpointWitnessing({ log, witness: 'aggregator-AGG1', post: transport.post, intervalMs: 60_000 });
      return { log, w, transport, close: () => { w.stop(); transport.close(); log.close(); } };
    }

    it('co-signs successive checkpoints of a growing log, keeping them on both sides', async () => {
      const c = await client(gwCert, join(dir, 'gw1'), 'erab.test/gateway-GW1/audit');
      try {
        for (let i = 0; i < 3; i++) c.log.append(rec(i));
        const first = await c.w.submit();
        assert.equal(first.outcome, 'cosigned', JSON.stringify(first));
        assert.ok(first.outcome === 'cosigned' && first.size >= 3);
        for (let i = 3; i < 20; i++) c.log.append(rec(i));
        const second = await c.w.submit();
        assert.equal(second.outcome, 'cosigned', JSON.stringify(second));
        assert.ok(second.outcome === 'cosigned' && first.outcome === 'cosigned' && second.size > first.size);
        // Both keep the same cosigned checkpoint; the request that was sent is kept too.
        const mine = readFileSync(c.w.checkpointFile, 'utf8');
        assert.match(mine, new RegExp(`\n${second.size}\n`));
        assert.match(mine, /\u2014 erab\.test\/aggregator-AGG1\/witness /);
        assert.equal(readFileSync(witness.checkpointFile('gateway-GW1'), 'utf8').split('\n').slice(0, 3).join('\n'), mine.split('\n').slice(0, 3).join('\n'));
        assert.match(readFileSync(join(dir, 'gw1', 'witnessed', 'aggregator-AGG1.sent'), 'utf8'), new RegExp(`^old ${first.size}\n`));
        assert.ok(witnessAudit.records.some((r) => r.action === 'audit.witness.log_key_pinned' && r.actor.id === 'GW1'));
        assert.ok(existsSync(join(dir, 'gw1', 'witnessed', 'aggregator-AGG1.witness.vkey')));
      } finally {
        c.close();
      }
    });

    it('a log restored from an older copy is refused (409 with the witnessed size) and audited as "log went backwards"', async () => {
      const logDir = join(dir, 'gw2');
      const c = await client(gw2Cert, logDir, 'erab.test/gateway-GW2/audit');
      c.log.append(rec(0));
      assert.equal((await c.w.submit()).outcome, 'cosigned');
      c.close();
      cpSync(logDir, join(dir, 'gw2-old'), { recursive: true });
      const again = await client(gw2Cert, logDir, 'erab.test/gateway-GW2/audit');
      for (let i = 1; i < 10; i++) again.log.append(rec(i));
      const grown = await again.w.submit();
      assert.equal(grown.outcome, 'cosigned');
      again.close();
      // Roll back: the old copy, with its old witnessed/ files, is put in place.
      rmSync(logDir, { recursive: true, force: true });
      cpSync(join(dir, 'gw2-old'), logDir, { recursive: true });
      const rolled = await client(gw2Cert, logDir, 'erab.test/gateway-GW2/audit');
      try {
        const r = await rolled.w.submit();
        assert.equal(r.outcome, 'refused', JSON.stringify(r));
        assert.ok(r.outcome === 'refused' && r.status === 409);
        assert.ok(r.outcome === 'refused' && /went backwards/.test(r.reason), r.outcome === 'refused' ? r.reason : '');
        const ev = witnessAudit.records.find((x) => x.action === 'audit.witness.rollback' && x.actor.id === 'GW2');
        assert.ok(ev, 'rollback audited at the witness');
        assert.equal(ev.outcome, 'refused');
        assert.match(ev.reason!, /log went backwards: checkpoint size \d+ is below size \d+/);
        assert.equal(ev.actor.role, 'gateway');
        // The witness still holds the larger checkpoint.
        assert.match(readFileSync(witness.checkpointFile('gateway-GW2'), 'utf8'), grown.outcome === 'cosigned' ? new RegExp(`\n${grown.size}\n`) : /never/);
      } finally {
        rolled.close();
      }
    });

    it('a history rewritten past the witnessed size is refused (422, audited); a raw POST with a stale old size gets 409 text/x.tlog.size', async () => {
      // GW2's rolled-back log grows again, with other records, past the witnessed size.
      const logDir = join(dir, 'gw2');
      const c = await client(gw2Cert, logDir, 'erab.test/gateway-GW2/audit');
      try {
        for (let i = 0; i < 30; i++) c.log.append(rec(i, 'rewritten'));
        const r = await c.w.submit();
        assert.equal(r.outcome, 'refused', JSON.stringify(r));
        assert.ok(r.outcome === 'refused' && r.status === 422);
        assert.ok(witnessAudit.records.some((x) => x.action === 'audit.witness.inconsistent' && x.actor.id === 'GW2' && /not consistent with checkpoint/.test(x.reason ?? '')));
        // tlog-witness: an old size that is not the witnessed one → 409 and our size, as text/x.tlog.size.
        const tls = clientTlsOptions(await material(gw2Cert), 'R4', { expect: { role: 'aggregator', id: 'AGG1' } });
        const t = httpsWitnessPost(vtn.url, tls);
        const raw = await t.post(WITNESS_ADD_CHECKPOINT_PATH, formatAddCheckpointRequest({ oldSize: 1, proof: [], note: c.log.latestCheckpoint!.note }));
        t.close();
        assert.equal(raw.status, 409);
        assert.equal(raw.contentType, 'text/x.tlog.size');
        assert.match(raw.body, /^\d+\n$/);
      } finally {
        c.close();
      }
    });

    it('another log key for the same peer is refused and audited; a foreign signature is 403', async () => {
      const other = generateSigner('erab.test/gateway-GW1/audit');
      const tls = clientTlsOptions(await material(gwCert), 'R4', { expect: { role: 'aggregator', id: 'AGG1' } });
      const t = httpsWitnessPost(vtn.url, tls);
      try {
        const r = await t.post('/erab/witness/log-key', `${formatVerifierKey(other)}\n`);
        assert.equal(r.status, 409);
        assert.ok(witnessAudit.records.some((x) => x.action === 'audit.witness.log_key_changed' && x.actor.id === 'GW1'));
        // A checkpoint signed by that other key, under GW1's pinned origin.
        const { signCheckpoint } = await import('../../../src/security/audit/checkpoint.js');
        const note = signCheckpoint({ origin: other.name, size: 100, rootHash: Buffer.alloc(32, 1) }, other);
        const r2 = await t.post(WITNESS_ADD_CHECKPOINT_PATH, formatAddCheckpointRequest({ oldSize: 0, proof: [], note }));
        assert.equal(r2.status, 403, r2.body);
      } finally {
        t.close();
      }
    });
  });
}
