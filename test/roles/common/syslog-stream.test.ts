/**
 * Security events of a role streamed live to Debian's rsyslog over mutual TLS (RFC 5425): the test
 * starts rsyslogd with its gtls TCP input on a loopback port (a temporary configuration, our CA and
 * a collector certificate from our PKI, client certificates required), starts a TSO configured
 * with `syslog: {...}`, makes a rogue peer knock, and finds the RFC 5424 message in what rsyslog
 * wrote. Skips without /usr/sbin/rsyslogd and its gtls driver (apt-get install rsyslog
 * rsyslog-gnutls; .ci/run installs them) and fails under CI=true then.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { join } from 'node:path';
import { tsoConfigSchema } from '../../../src/roles/tso/config.js';
import { startTso, type RunningTso } from '../../../src/roles/tso/tso.js';
import { freeLoopbackPort, pkiWorld, waiter, type PkiWorld } from '../../kit/index.js';

const RSYSLOGD = '/usr/sbin/rsyslogd';
const GTLS = ['/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so', '/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so'];
const missing = existsSync(RSYSLOGD) && GTLS.some((f) => existsSync(f)) ? false : 'rsyslogd with its gtls driver is not installed (apt-get install rsyslog rsyslog-gnutls)';
if (missing && process.env.CI === 'true') throw new Error(`${missing}; .ci/run installs it`);

const waitFor = waiter({ timeoutMs: 20_000 });
let world: PkiWorld<'TSO1' | 'ROGUE' | 'SIEM'>;
let rsyslog: ChildProcess | undefined;
let rsyslogErr = '';
let tso: RunningTso | undefined;
let received = '';

before(async () => {
  if (missing) return;
  world = await pkiWorld({ TSO1: 'tso:TSO1', ROGUE: 'aggregator:ROGUE', SIEM: 'operator:siem-1' }, { prefix: 'erab-syslog-' });
  const siem = world.get('SIEM');
  const port = await freeLoopbackPort();
  received = join(world.dir, 'received.log');
  const conf = join(world.dir, 'rsyslog.conf');
  writeFileSync(conf, `
global(
  workDirectory="${world.dir}"
  DefaultNetstreamDriver="gtls"
  DefaultNetstreamDriverCAFile="${world.caFile}"
  DefaultNetstreamDriverCertFile="${siem.files.certFile}"
  DefaultNetstreamDriverKeyFile="${siem.files.keyFile}"
)
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")
input(type="imtcp" address="127.0.0.1" port="${port}")
action(type="omfile" file="${received}" template="RSYSLOG_SyslogProtocol23Format")
`);
  rsyslog = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', join(world.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  rsyslog.stdout!.on('data', (d: Buffer) => { rsyslogErr = (rsyslogErr + d.toString()).slice(-4000); });
  rsyslog.stderr!.on('data', (d: Buffer) => { rsyslogErr = (rsyslogErr + d.toString()).slice(-4000); });
  await waitFor('rsyslogd listening', () => new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  })).catch((err: Error) => { throw new Error(`${err.message}; rsyslogd said: ${rsyslogErr}`); });
  const config = tsoConfigSchema.parse({
    id: 'TSO1', tls: world.tlsFiles('TSO1'), listen: { port: 0 },
    store: { url: join(world.dir, 'tso.db') }, audit: { dir: join(world.dir, 'audit') },
    contractedAggregators: [{ id: 'AGG1' }],
    syslog: { host: '127.0.0.1', port, expectId: 'siem-1', appName: 'erab-tso' },
  });
  tso = await startTso(config);
});

after(async () => {
  await tso?.stop();
  if (rsyslog && rsyslog.exitCode === null) {
    rsyslog.kill('SIGTERM');
    await new Promise((resolve) => rsyslog!.once('exit', resolve));
  }
  world?.close();
});

test('a refused TLS peer reaches rsyslog as an RFC 5424 message over mutual TLS', { skip: missing }, async () => {
  const rogue = world.get('ROGUE');
  await new Promise<void>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: tso!.vtn.port, cert: rogue.certPem, key: rogue.keyPem, ca: world.caPem });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
  const line = await waitFor('the refusal in rsyslog\'s file', () => {
    if (!existsSync(received)) return undefined;
    return readFileSync(received, 'utf8').split('\n').find((l) => l.includes('tls.refused'));
  }).catch((err: Error) => { throw new Error(`${err.message}; rsyslogd said: ${rsyslogErr}`); });
  // <PRI>1 TIMESTAMP HOSTNAME APP-NAME ...: authpriv (10) * 8 + warning (4) = 84.
  assert.match(line, /^<84>1 \d{4}-\d\d-\d\dT[^ ]+ \S+ erab-tso /);
  assert.match(line, /ROGUE/);
  assert.equal(tso!.health.registry.getSingleMetric('erab_syslog_dropped') !== undefined, true);
});
