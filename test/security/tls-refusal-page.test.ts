/**
 * A browser refused by an operator console gets a readable page, not an empty reply (issue 16).
 * A real https listener (createMutualTlsServer with the console's TLS profile) and raw TLS
 * clients: without a certificate, with a certificate from another CA, with an operator not on
 * the list, and with an allowed operator. The page is fixed text chosen by the refusal code;
 * the refusal is still audited and the handler never sees the request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryAuditSink } from '../../src/security/audit/types.js';
import { consoleRefusalPage } from '../../src/web/refusal-page.js';
import { request, startEchoServer, type RunningServer } from './tls-helpers.js';
import { pkiWorld, type PkiWorld } from '../kit/index.js';

describe('operator console: the refusal page', () => {
  let world: PkiWorld;
  let foreign: PkiWorld;
  let withPage: RunningServer;
  let withoutPage: RunningServer;
  const audit = new MemoryAuditSink();

  before(async () => {
    world = await pkiWorld({ console: 'aggregator:AGG1', alice: 'operator:alice', mallory: 'operator:mallory' }, { prefix: 'erab-refusal-page-' });
    foreign = await pkiWorld({ alice: 'operator:alice' }, { prefix: 'erab-refusal-page-foreign-' });
    const material = await world.material('console');
    const common = { material, profile: 'console' as const, allowList: { participants: ['operator:alice'] } };
    withPage = await startEchoServer({ ...common, audit, listener: 'aggregator:AGG1:console', refusalPage: consoleRefusalPage });
    withoutPage = await startEchoServer({ ...common, audit: new MemoryAuditSink(), listener: 'other' });
  });

  after(async () => {
    await withPage?.close();
    await withoutPage?.close();
    world?.close();
    foreign?.close();
  });

  const as = (w: PkiWorld, name: string) => ({ cert: w.get(name).certPem, key: w.get(name).keyPem, ca: world.caPem, servername: 'localhost' });

  it('a browser without a certificate reads 403 with how to import one, in Japanese and English', async () => {
    const r = await request(withPage.port, { ca: world.caPem, servername: 'localhost' });
    assert.equal(r.status, 403, r.error);
    assert.match(r.body ?? '', /erab pki issue --p12/);
    assert.match(r.body ?? '', /クライアント証明書を提示しませんでした/);
    assert.match(r.body ?? '', /no_certificate/);
    assert.equal(withPage.seen, 0, 'the handler never saw the request');
    assert.ok(audit.records.some((x) => x.action === 'tls.refused' && x.details?.code === 'no_certificate'), 'the refusal is audited');
  });

  it('a certificate from another CA and an operator not on the list each get their own hint', async () => {
    const untrusted = await request(withPage.port, as(foreign, 'alice'));
    assert.equal(untrusted.status, 403);
    assert.match(untrusted.body ?? '', /untrusted_chain/);
    const unlisted = await request(withPage.port, as(world, 'mallory'));
    assert.equal(unlisted.status, 403);
    assert.match(unlisted.body ?? '', /not_allow_listed/);
    assert.doesNotMatch(unlisted.body ?? '', /mallory/, 'nothing the peer presented is echoed');
    assert.equal(withPage.seen, 0);
  });

  it('the allowed operator is served as before', async () => {
    const r = await request(withPage.port, as(world, 'alice'));
    assert.equal(r.status, 200, r.error);
    assert.equal(JSON.parse(r.body ?? 'null').id, 'alice');
  });

  it('a machine listener without a page still ends the connection with no reply', async () => {
    const r = await request(withoutPage.port, { ca: world.caPem, servername: 'localhost' });
    assert.equal(r.status, undefined);
    assert.equal(r.body, undefined);
  });
});
