/**
 * `erab device site` serving the ECHONET Lite Web API as an operator runs it: a device
 * certificate issued with `erab pki issue --role device`, the site a separate process with its
 * own audit log, and a gateway controlling its battery over mutual TLS with an OAuth 2.0 token.
 * A gateway certificate offered as the node's certificate is refused at start-up; a wrong client
 * secret is refused and lands in the device's audit log. Addresses 127.17.7.x.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { systemClock } from '../../../src/core/clock.js';
import { watts } from '../../../src/core/units.js';
import { eoj } from '../../../src/protocols/echonet/eoj.js';
import { WebApiClient } from '../../../src/protocols/echonet/webapi/client.js';
import { MemoryAuditSink } from '../../../src/security/audit/types.js';
import { clientTlsOptions } from '../../../src/security/tls.js';
import { Gateway, gatewayConfigSchema } from '../../../src/roles/gateway/gateway.js';
import { pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';

const MAIN = new URL('../../../src/cli/main.js', import.meta.url).href;
const SCRIPT = `import(${JSON.stringify(MAIN)}).then((m) => m.main(['node', 'erab', ...JSON.parse(process.argv[1])])).then((c) => { process.exitCode = c; })`;
const SECRET = 'device-webapi-secret-GW1';

function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', SCRIPT, JSON.stringify(args)], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr });
    });
  });
}

let pki: PkiWorld<'gw' | 'agg'>;
let secretFile: string;
let device: { certFile: string; keyFile: string };

before(async () => {
  pki = await pkiWorld({ gw: 'gateway:GW1', agg: 'aggregator:AGG1' }, { prefix: 'erab-device-webapi-cli-' });
  const dir = join(pki.dir, 'world-pki');
  const issued = await run(['pki', 'issue', '--dir', dir, '--role', 'device', '--id', 'HOME-7', '--ip', '127.17.7.2']);
  assert.equal(issued.code, 0, issued.err);
  // Where `erab pki issue` writes a participant's files (issued/<role>-<id>/).
  device = { certFile: join(dir, 'issued', 'device-HOME-7', 'cert.pem'), keyFile: join(dir, 'issued', 'device-HOME-7', 'key.pem') };
  secretFile = join(pki.dir, 'client.secret');
  writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
});

after(() => pki?.close());

const siteArgs = (cert: string, key: string, auditDir: string) => [
  'device', 'site', '--address', '127.17.7.2', '--port', '0', '--battery', '--duration', '60',
  '--webapi-port', '0', '--webapi-cert', cert, '--webapi-key', key, '--webapi-ca', pki.caFile, '--webapi-crl', pki.crlFile,
  '--webapi-client-id', 'GW1', '--webapi-secret-file', secretFile, '--audit-dir', auditDir,
];

test('a site started with --webapi-* is controlled by a gateway over mutual TLS; refusals are in the site\'s audit log', async () => {
  const auditDir = join(pki.dir, 'device-audit');
  const child: ChildProcess = spawn(process.execPath, ['-e', SCRIPT, JSON.stringify(siteArgs(device.certFile, device.keyFile, auditDir))], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let gw: Gateway | undefined;
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', () => reject(new Error(`site exited before its start-up line: ${err}`)));
    });
    const started = JSON.parse(line) as { webApiUrl?: string; instances: string[]; productionNumber: string };
    assert.match(started.webApiUrl ?? '', /^https:\/\/127\.17\.7\.2:\d+$/, line);
    const url = started.webApiUrl!;

    // A client with the right certificate but a wrong secret gets no token (audited by the device).
    const wrong = new WebApiClient({ tls: clientTlsOptions(await pki.material('gw'), 'R5', { expect: { role: 'device', id: 'HOME-7' } }), clientId: 'GW1', clientSecret: 'guessed', clock: systemClock });
    await assert.rejects(wrong.getProperties(url, eoj(0x027d, 1), [0xda]), /no access token \(HTTP 401 invalid_client/);
    wrong.close();

    const audit = new MemoryAuditSink();
    gw = await Gateway.start(gatewayConfigSchema.parse({
      gatewayId: 'GW1', database: join(pki.dir, 'gw.db'), tls: pki.tlsFiles('gw'),
      // No VTN is needed here: the gateway keeps retrying its registration in the background.
      aggregator: { id: 'AGG1', vtnUrl: 'https://127.0.0.1:9', certificateFile: pki.get('agg').files.certFile },
      operator: { port: 0, operators: ['op-sato'] },
      echonet: { address: '127.17.7.1', port: 0, pollMs: 60_000, webApi: { devices: [{ url, id: 'HOME-7' }], clientId: 'GW1', clientSecretFile: secretFile } },
      admission: { allowList: [{ serialNumber: started.productionNumber }] },
    }), { audit });
    const rec = gw.admission.list().find((r) => r.class === 'battery');
    assert.ok(rec, 'the battery behind the Web API process is discovered');
    assert.deepEqual([rec.address, rec.state], [url, 'admitted']);
    await gw.site.execute({ deviceId: rec.deviceId, class: 'battery', action: 'charge', powerW: watts(500) }, undefined);
    const g = gw;
    await waitFor(async () => {
      await g.site.poll();
      return g.site.reading(rec.deviceId)?.mode === 'charging';
    }, { timeoutMs: 10_000, what: 'the battery in the site process reads charging through the gateway' });
  } finally {
    await gw?.close();
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, err);

  // The site's own audit log: intact, and it holds the refused token request.
  const verified = await run(['audit', 'verify', '--dir', auditDir]);
  assert.equal(verified.code, 0, verified.err + verified.out);
  const exported = await run(['audit', 'export', '--dir', auditDir, '--format', 'jsonl']);
  assert.equal(exported.code, 0, exported.err);
  const records = exported.out.trim().split('\n').map((l) => JSON.parse(l) as { action: string; actor: { id: string }; details?: { status?: number } });
  const refused = records.find((r) => r.action === 'echonet.webapi.refused');
  assert.ok(refused, `the wrong secret is audited: ${exported.out.slice(0, 500)}`);
  assert.equal(refused.details?.status, 401);
  assert.equal(refused.actor.id, 'device.webapi:127.17.7.2');
  assert.ok(!exported.out.includes('guessed'), 'no secret in the log');
});

test('erab device site refuses a Web API certificate that is not a device\'s, and half-given client flags', async () => {
  const gwFiles = pki.tlsFiles('gw');
  const r = await run(siteArgs(gwFiles.certFile, gwFiles.keyFile, join(pki.dir, 'audit-refused')));
  assert.equal(r.code, 1, r.out);
  assert.match(r.err, /webApi\.tls\.certFile .* is issued to gateway:GW1, not a device \(issue one with: erab pki issue --role device/);
  const half = await run(['device', 'site', '--address', '127.17.7.3', '--webapi-client-id', 'GW1', '--duration', '0.1']);
  assert.equal(half.code, 2);
  assert.match(half.err, /--webapi-client-id and --webapi-secret-file go together/);
  const noTls = await run(['device', 'site', '--address', '127.17.7.3', '--webapi-client-id', 'GW1', '--webapi-secret-file', secretFile, '--duration', '0.1']);
  assert.equal(noTls.code, 1);
  assert.match(noTls.err, /webApi\.tls/);
});

test('the site configuration\'s webApi section works with files relative to it; erab device sites refuses it', async () => {
  const folder = mkdtempSync(join(pki.dir, 'conf-'));
  copyFileSync(device.certFile, join(folder, 'node.pem'));
  copyFileSync(device.keyFile, join(folder, 'node.key'));
  copyFileSync(pki.caFile, join(folder, 'ca.pem'));
  copyFileSync(secretFile, join(folder, 'gw1.secret'));
  const file = join(folder, 'site.json');
  writeFileSync(file, JSON.stringify({
    battery: {},
    webApi: { tls: { certFile: 'node.pem', keyFile: 'node.key', caFile: 'ca.pem' }, clients: [{ id: 'GW1', secretFile: 'gw1.secret' }], gateways: ['GW1'] },
    audit: { dir: join(folder, 'audit') },
  }));
  const r = await run(['device', 'site', '--address', '127.17.7.5', '--port', '0', '--config', file, '--duration', '0.5']);
  assert.equal(r.code, 0, r.err);
  assert.match((JSON.parse(r.out.trim()) as { webApiUrl: string }).webApiUrl, /^https:\/\/127\.17\.7\.5:\d+$/);
  const many = await run(['device', 'sites', '--count', '2', '--base-address', '127.17.7.10', '--config', file, '--duration', '0.1']);
  assert.equal(many.code, 2);
  assert.match(many.err, /webApi is served by one node per process: use erab device site/);
});
