/**
 * The live syslog stream (RFC 5425) across real mutual TLS: messages sent while the collector is
 * down wait in a bounded queue (the oldest dropped and counted), are delivered in order once it
 * comes up, and close() ends the session after the last frame. `--syslog host:port` parsing names
 * the rule it breaks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { clientTlsOptions, serverTlsOptions } from '../../../src/security/tls.js';
import { parseOctetCountingFrames, SyslogTlsStream } from '../../../src/security/audit/syslog-tls.js';
import { syslogTarget } from '../../../src/security/audit/config.js';
import { freeLoopbackPort, pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';

let world: PkiWorld<'siem' | 'agg'>;
before(async () => { world = await pkiWorld({ siem: 'operator:siem-1', agg: 'aggregator:AGG1' }, { prefix: 'erab-syslog-stream-' }); });
after(() => world.close());

test('--syslog host:port parses, and a bad one names the rule', () => {
  assert.deepEqual({ ...syslogTarget('127.0.0.1:6514') }, { host: '127.0.0.1', port: 6514, facility: 'authpriv', appName: 'erab', records: 'security', queueMax: 10_000 });
  assert.equal(syslogTarget('[::1]:1514').host, '::1');
  assert.throws(() => syslogTarget('collector'), /--syslog "collector": must be host:port/);
  assert.throws(() => syslogTarget('127.0.0.1:0'), /port/);
});

test('queued while the collector is down (bounded, drops counted), delivered in order when it comes up', async () => {
  const port = await freeLoopbackPort();
  const stream = new SyslogTlsStream({
    host: '127.0.0.1', port, queueMax: 3, retryMs: 50, maxRetryMs: 100,
    tls: clientTlsOptions(await world.material('agg'), 'syslog', { expect: { id: 'siem-1' } }),
  });
  for (const m of ['one', 'two', 'three', 'four', 'five']) stream.send(m);
  assert.equal(stream.queued, 3);
  assert.equal(stream.dropped, 2);

  const received: string[] = [];
  const collector = tls.createServer(serverTlsOptions(await world.material('siem'), 'syslog'), (socket) => {
    if (!socket.authorized) return socket.destroy();
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      const parsed = parseOctetCountingFrames(Buffer.concat([buf, d]));
      received.push(...parsed.messages);
      buf = parsed.rest;
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => collector.listen(port, '127.0.0.1', resolve));
  try {
    await waitFor('queued messages delivered', () => received.length === 3, 10_000);
    assert.deepEqual(received, ['three', 'four', 'five']);
    stream.send('six');
    await stream.close();
    await waitFor('the last one before close', () => received.length === 4, 5_000);
    assert.equal(received[3], 'six');
    assert.equal(stream.sent, 4);
  } finally {
    await new Promise((resolve) => collector.close(resolve));
  }
});
