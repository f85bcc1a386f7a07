/**
 * Property: whatever single edit, deletion, insertion or swap an attacker makes to a closed log,
 * `verify` fails and names that kind of tampering at that record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ManualClock } from '../../../src/core/clock.js';
import { AuditLog } from '../../../src/security/audit/log.js';
import { verifyAuditLog } from '../../../src/security/audit/verify.js';
import { parseVerifierKey } from '../../../src/security/audit/note.js';

type Op =
  | { kind: 'edited'; at: number; field: 'outcome' | 'target' | 'actor' | 'time' }
  | { kind: 'deleted'; at: number; count: number }
  | { kind: 'inserted'; at: number; careful: boolean }
  | { kind: 'reordered'; at: number; distance: number };

const leaf = (s: string): string => createHash('sha256').update(Buffer.from([0])).update(s).digest('hex');

/** Applies `op` to the lines; returns the record index verify must name. */
function tamper(lines: string[], op: Op): number {
  const n = lines.length;
  switch (op.kind) {
    case 'edited': {
      const k = op.at % n;
      const l = lines[k]!;
      const edited =
        op.field === 'outcome' ? l.replace(/"outcome":"(\w+)"/, (_, o: string) => `"outcome":"${o === 'success' ? 'failure' : 'success'}"`)
        : op.field === 'target' ? l.replace(/"target":"[^"]*"/, '"target":"somewhere-else"')
        : op.field === 'actor' ? l.replace(/"id":"[^"]*"/, '"id":"mallory"')
        : l.replace(/"time":"(\d{4})/, (_, y: string) => `"time":"${Number(y) - 1}`);
      assert.notEqual(edited, l);
      lines[k] = edited;
      return k;
    }
    case 'deleted': {
      const k = op.at % n;
      lines.splice(k, Math.min(op.count, n - k));
      return k;
    }
    case 'inserted': {
      const k = op.at % (n + 1);
      const forged = op.careful && k > 0 && k < n
        // index and chain exactly as a real record at this position would have them (not at the
        // very end: a perfect continuation after the last checkpoint is indistinguishable from a
        // record written after it, which is why close() always checkpoints)
        ? `{"i":${k},"time":"2026-04-01T00:00:00.000Z","actor":{"id":"mallory","kind":"operator"},"action":"gateway.command","outcome":"success","prev":"${leaf(lines[k - 1]!)}"}`
        : `{"i":${(k * 7) % (n + 3)},"time":"2026-04-01T00:00:00.000Z","actor":{"id":"mallory","kind":"operator"},"action":"pki.issue","outcome":"success","prev":"${'ab'.repeat(32)}"}`;
      lines.splice(k, 0, forged);
      return k;
    }
    case 'reordered': {
      const k = op.at % (n - 1);
      const j = Math.min(n - 1, k + op.distance);
      const [moved] = lines.splice(k, 1);
      lines.splice(j, 0, moved!); // record k now sits after record j
      return k;
    }
  }
}

test('any single tampering is detected and named with its kind and record index', { timeout: 600_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'erab-audit-prop-'));
  try {
    // One pristine log, copied for each case (the record content does not matter to the property).
    const dir = join(root, 'log');
    const clock = new ManualClock(Date.UTC(2026, 3, 1));
    const log = AuditLog.open({ dir, origin: 'erab.test/prop', checkpointEvery: 7, clock });
    const n = 40;
    for (let i = 0; i < n; i++) {
      log.append({ actor: { kind: i % 2 ? 'peer' : 'operator', id: `actor-${i}` }, action: 'openadr.event', target: `ven-${i}`, outcome: i % 4 ? 'success' : 'refused' });
      clock.advance(1000);
    }
    const verifier = parseVerifierKey(log.verifierKey);
    log.close();
    const segPath = join(dir, 'segments', '000000000000.jsonl');
    const pristine = readFileSync(segPath, 'utf8');
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('edited' as const), at: fc.nat(200), field: fc.constantFrom('outcome' as const, 'target' as const, 'actor' as const, 'time' as const) }),
      fc.record({ kind: fc.constant('deleted' as const), at: fc.nat(200), count: fc.integer({ min: 1, max: 5 }) }),
      fc.record({ kind: fc.constant('inserted' as const), at: fc.nat(200), careful: fc.boolean() }),
      fc.record({ kind: fc.constant('reordered' as const), at: fc.nat(200), distance: fc.integer({ min: 1, max: 6 }) }),
    );
    fc.assert(
      fc.property(op, (o) => {
        const lines = pristine.split('\n');
        lines.pop();
        const index = tamper(lines, o);
        writeFileSync(segPath, lines.map((l) => `${l}\n`).join(''));
        const r = verifyAuditLog(dir, { verifier });
        assert.equal(r.ok, false, `${JSON.stringify(o)} went unnoticed`);
        assert.deepEqual({ kind: r.firstTamper?.kind, index: r.firstTamper?.index }, { kind: o.kind, index }, `${JSON.stringify(o)}: ${r.firstTamper?.message}`);
        assert.equal(r.firstTamper?.file, join('segments', '000000000000.jsonl'));
      }),
      { numRuns: 150, seed: 20260401 },
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
