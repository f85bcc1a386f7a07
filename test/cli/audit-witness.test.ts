/**
 * `erab audit verify --witness`: a log cut back to an earlier checkpoint (records and checkpoints
 * together) still verifies on its own — nothing in the log says it was longer — but not against a
 * checkpoint a witness cosigned. Run as an auditor runs it: a separate process, exit codes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditLog } from '../../src/security/audit/log.js';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { AuditWitness, formatAddCheckpointRequest } from '../../src/security/audit/witness.js';
import { splitCheckpointsFile } from '../../src/security/audit/checkpoint.js';

const mainJs = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const runner = `import(${JSON.stringify(mainJs)}).then((m) => m.main(['node', 'erab', ...process.argv.slice(1)])).then((c) => { process.exitCode = c; });`;

function erab(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', runner, '--', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const ORIGIN = 'erab.test/gateway-GW1/audit';
const WITNESS = 'erab.test/aggregator-AGG1/witness';
const PEER = { id: 'GW1', role: 'gateway', fingerprint: 'AA:BB:CC:DD:EE:FF:00:11:22:33' };
const rec = (i: number, tag = 'a') => ({ actor: { kind: 'system' as const, id: 'gw' }, action: 'gateway.test', target: `${tag}-${i}`, outcome: 'success' as const });

describe('erab audit verify --witness', () => {
  let root: string;
  let dir: string;
  let forkDir: string;
  let witness: AuditWitness;
  let witnessAudit: MemoryAuditSink;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'erab-cli-witness-'));
    dir = join(root, 'audit');
    // Checkpoints at 0 (the empty tree, at creation), 5 and 10.
    let log = AuditLog.open({ dir, origin: ORIGIN, checkpointEvery: 5, checkpointIntervalMs: 0 });
    for (let i = 0; i < 5; i++) log.append(rec(i));
    log.close();
    // A second history from size 5 on, signed with the same key (what an insider holding the key can make).
    forkDir = join(root, 'fork');
    cpSync(dir, forkDir, { recursive: true });
    log = AuditLog.open({ dir, origin: ORIGIN, checkpointEvery: 5, checkpointIntervalMs: 0 });
    for (let i = 5; i < 10; i++) log.append(rec(i));
    const note10 = log.latestCheckpoint!.note;
    const vkey = log.verifierKey;
    log.close();
    const fork = AuditLog.open({ dir: forkDir, origin: ORIGIN, checkpointEvery: 5, checkpointIntervalMs: 0 });
    for (let i = 5; i < 10; i++) fork.append(rec(i, 'forged'));
    fork.close();

    witnessAudit = new MemoryAuditSink();
    witness = AuditWitness.open({ dir: join(root, 'witness'), name: WITNESS, audit: witnessAudit });
    assert.equal(witness.registerLogKey(PEER, vkey).status, 200);
    const r = witness.addCheckpoint(PEER, formatAddCheckpointRequest({ oldSize: 0, proof: [], note: note10 }));
    assert.equal(r.status, 200, r.body);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('an intact log extends the witnessed checkpoint', async () => {
    const r = await erab(['audit', 'verify', '--dir', dir, '--witness', witness.checkpointFile('gateway-GW1'), '--witness-key', witness.verifierKey]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /intact: 10 records.*extends size 10 cosigned by erab\.test\/aggregator-AGG1\/witness/);
  });

  it('a log cut back to checkpoint 5 passes on its own (today\'s limit) but fails against the witness, naming it and the sizes', async () => {
    const cut = join(root, 'cut');
    cpSync(dir, cut, { recursive: true });
    // Cut the records after record 4 and the checkpoints after the one of size 5.
    const segDir = join(cut, 'segments');
    const seg = join(segDir, readdirSync(segDir)[0]!);
    writeFileSync(seg, readFileSync(seg, 'utf8').split('\n').slice(0, 5).map((l) => `${l}\n`).join(''));
    const { notes } = splitCheckpointsFile(readFileSync(join(cut, 'checkpoints.txt'), 'utf8'));
    writeFileSync(join(cut, 'checkpoints.txt'), notes.filter((n) => /\n5\n/.test(n.note) || /\n0\n/.test(n.note)).map((n) => n.note).join(''));

    const alone = await erab(['audit', 'verify', '--dir', cut]);
    assert.equal(alone.code, 0, `without a later checkpoint the truncation is invisible: ${alone.stderr}`);
    assert.match(alone.stdout, /intact: 5 records/);

    const witnessed = await erab(['audit', 'verify', '--dir', cut, '--witness', witness.checkpointFile('gateway-GW1'), '--witness-key', witness.verifierKey]);
    assert.equal(witnessed.code, 1, witnessed.stdout);
    assert.match(witnessed.stderr, /log truncated below a witnessed checkpoint: witness erab\.test\/aggregator-AGG1\/witness cosigned size 10 at \d{4}-.*but the log holds only 5 records/);
  });

  it('a history rewritten from record 5 with the log\'s own key fails against the witness', async () => {
    const alone = await erab(['audit', 'verify', '--dir', forkDir]);
    assert.equal(alone.code, 0, alone.stderr);
    // The witness key is read from beside the witness's file (cosigner.vkey), with a warning.
    const r = await erab(['audit', 'verify', '--dir', forkDir, '--witness', witness.checkpointFile('gateway-GW1')]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /warning: .*witness key read from beside the file/);
    assert.match(r.stderr, /log rewritten below a witnessed checkpoint: witness erab\.test\/aggregator-AGG1\/witness cosigned size 10/);
  });

  it('a cosigned checkpoint whose cosignature does not verify is refused, naming the file', async () => {
    const file = join(root, 'forged.checkpoint');
    const note = readFileSync(witness.checkpointFile('gateway-GW1'), 'utf8');
    // Change one base64 character of the cosignature (the last line).
    const lines = note.split('\n');
    const last = lines[lines.length - 2]!;
    lines[lines.length - 2] = `${last.slice(0, -6)}${last.slice(-6, -5) === 'A' ? 'B' : 'A'}${last.slice(-5)}`;
    writeFileSync(file, lines.join('\n'));
    const r = await erab(['audit', 'verify', '--dir', dir, '--witness', file, '--witness-key', witness.verifierKey]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /forged\.checkpoint: not cosigned by erab\.test\/aggregator-AGG1\/witness/);
  });
});
