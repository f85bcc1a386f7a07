/**
 * The secops routes on the aggregator's operator endpoint, over real mutual TLS, with the
 * composition `erab aggregator run` uses (aggregatorSecops): an operator lists the findings an
 * advisory import opened, the alerts a rogue peer's refused handshakes raised, and acknowledges
 * one (audited as the certificate's operator); a gateway certificate is refused; a bad query
 * parameter is a 400 naming it; pages list every item once.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAggregatorConfig, type AggregatorConfig } from '../../../src/roles/aggregator/runtime/config.js';
import { startAggregator, type RunningAggregator } from '../../../src/roles/aggregator/runtime/aggregator.js';
import { Portfolio } from '../../../src/roles/aggregator/portfolio/portfolio.js';
import { portfolioMigrations, type PortfolioTables } from '../../../src/roles/aggregator/portfolio/tables.js';
import { aggregatorSecops } from '../../../src/cli/role-secops.js';
import { complianceProfileSchema } from '../../../src/compliance/profile.js';
import { readRecords } from '../../../src/security/audit/export.js';
import { TlsMaterial, clientTlsOptions } from '../../../src/security/tls.js';
import type { IssuedCertificate } from '../../../src/security/pki/index.js';
import { composeMigrations } from '../../../src/store/migrations.js';
import { openStore, type Store } from '../../../src/store/store.js';
import { evaluateFindings, importFeed, listAssets, secopsMigrations, setMaker, syncInventoryFromPortfolio, type SecopsTables } from '../../../src/secops/index.js';
import { startTso } from '../../../src/roles/tso/tso.js';
import { tsoConfigSchema } from '../../../src/roles/tso/config.js';
import { vtnSecops } from '../../../src/cli/role-secops.js';
import { request } from '../../security/tls-helpers.js';
import { pkiWorld, waitFor, type PkiWorld } from '../../kit/index.js';
import { REPO_ROOT } from '../../repo.js';
import { errorText } from '../../../src/core/error-messages.js';

const FEEDS = join(REPO_ROOT, 'test', 'fixtures', 'feeds');
const FLEET = [
  'resource_id,site_id,site_name,tso_area,gateway_id,ven_id,class,name,capacity_w,capacity_wh,max_charge_w,max_discharge_w,maker_code,product_code,serial_number,firmware_version',
  'bat-in,site-a,A house,tokyo,gw-a,ven-a,battery,BT,3000,6000,3000,3000,00007B,BT-100,SN1,1.2.3', // in the NVD fixture's range
  'bat-out,site-b,B house,tokyo,gw-b,ven-b,battery,BT,3000,6000,3000,3000,00007B,BT-100,SN2,1.2.4', // the first fixed version
].join('\n');

let world: PkiWorld<'agg' | 'tso' | 'alice' | 'gw'>;
let rogueWorld: PkiWorld<'rogue'>;
let cfg: AggregatorConfig;
let agg: RunningAggregator;
let side: Store<SecopsTables & PortfolioTables>;

type Reply = { status: number; json: any; text: string };
/** One request to an operator endpoint (default: the aggregator's console) as `who`, over mutual TLS. */
async function api(who: IssuedCertificate, method: 'GET' | 'POST', path: string, body?: unknown, at?: { port: number; role: 'tso'; id: string }): Promise<Reply> {
  const material = await TlsMaterial.fromPem({ credentials: [{ certPem: who.certPem, keyPem: who.keyPem }], caPem: world.caPem });
  const tls = clientTlsOptions(material, 'console', { expect: at ? { role: at.role, id: at.id } : { role: 'aggregator', id: 'AGG1' } });
  return new Promise((resolve, reject) => {
    const req = https.request({ ...tls, host: '127.0.0.1', port: at?.port ?? agg.consolePort!, method, path, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
const get = (path: string) => api(world.certs.alice, 'GET', path);

/** Follows nextCursor from the first page to the last; the ids in order. */
async function everyPage(path: string, limit: number): Promise<{ ids: (string | number)[]; pages: number }> {
  const ids: (string | number)[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.items.length <= limit);
    ids.push(...(r.json.items as { id: string | number }[]).map((x) => x.id));
    cursor = r.json.nextCursor;
    pages++;
    assert.ok(pages < 1000, 'pages end');
  } while (cursor);
  return { ids, pages };
}

before(async () => {
  world = await pkiWorld({ agg: 'aggregator:AGG1', tso: 'tso:TSO1', alice: 'operator:alice', gw: 'gateway:GW1' }, { prefix: 'erab-secops-api-', flatFiles: true });
  rogueWorld = await pkiWorld({ rogue: 'gateway:GW1' }, { prefix: 'erab-secops-api-rogue-', ca: { commonName: 'rogue CA' } });
  const input = {
    id: 'AGG1',
    tls: { certFile: join(world.dir, 'agg.pem'), keyFile: join(world.dir, 'agg.key'), caFile: join(world.dir, 'ca.pem') },
    store: { url: join(world.dir, 'agg.db') },
    audit: { dir: join(world.dir, 'audit') },
    downstream: { port: 0, allowList: { participants: ['gateway:GW1'] } },
    console: { port: 0 },
  };
  cfg = parseAggregatorConfig(input);
  // The compliance checks read the aggregator's configuration file, as `erab compliance status --aggregator-config` does.
  writeFileSync(join(world.dir, 'agg.json'), JSON.stringify(input));
  const compliance = complianceProfileSchema.parse({
    participant: { id: 'AGG1' }, roles: ['aggregator'], configs: { aggregator: join(world.dir, 'agg.json') },
    store: join(world.dir, 'compliance.db'), audit: { dir: join(world.dir, 'compliance-audit') },
  });
  const secops = aggregatorSecops(cfg, { compliance });
  agg = await startAggregator(cfg, secops.deps);
  // What `erab aggregator portfolio import`, `erab vuln maker` and `erab vuln import --match` do, on the running aggregator's store.
  side = await openStore<SecopsTables & PortfolioTables>({ url: cfg.store.url, migrations: composeMigrations(portfolioMigrations, secopsMigrations), ignoreUnknownMigrations: true });
  await new Portfolio(side).importText(FLEET, 'csv', 'fleet.csv', { kind: 'operator', id: 'alice' });
  await setMaker(side.db, '00007B', 'example_energy', 'Example Energy', Date.now());
  await importFeed(side.db, { format: 'nvd', bytes: readFileSync(join(FEEDS, 'nvd-cve-2.0.json')), source: 'nvd-cve-2.0.json' });
  await syncInventoryFromPortfolio(side.db);
  await evaluateFindings(side.db);
});
after(async () => {
  await side?.close();
  await agg?.stop();
  await world?.close();
  await rogueWorld?.close();
});

it('an operator lists the findings an advisory import opened, filtered by status, advisory and site, and the import itself', async () => {
  const all = await get('/api/vuln/findings');
  assert.equal(all.status, 200, all.text);
  assert.deepEqual(all.json.items.map((f: any) => [f.asset.id, f.advisory.uid, f.status, f.asset.siteId]), [['device:bat-in', 'nvd:CVE-2026-10001', 'open', 'site-a']]);
  assert.equal(all.json.nextCursor, null);
  assert.equal((await get('/api/vuln/findings?status=open,notified&advisory=CVE-2026-10001&site=site-a')).json.items.length, 1);
  assert.equal((await get('/api/vuln/findings?site=site-b')).json.items.length, 0);
  assert.equal((await get('/api/vuln/findings?status=patched')).json.items.length, 0);
  const imports = await get('/api/vuln/imports');
  assert.equal(imports.status, 200, imports.text);
  assert.deepEqual(imports.json.items.map((i: any) => [i.format, i.source, i.records]), [['nvd', 'nvd-cve-2.0.json', 3]]);
});

it('pages of the inventory list every asset once, in the store\'s order, and the kind and site filters hold', async () => {
  const stored = (await listAssets(side.db)).map((a) => a.id);
  assert.ok(stored.length >= 4, `assets: ${stored.join(', ')}`);
  // The aggregator's own software (some hundreds of npm packages) is in the inventory too.
  const paged = await everyPage('/api/vuln/inventory', 7);
  assert.deepEqual(paged.ids, stored);
  assert.equal(paged.pages, Math.ceil(stored.length / 7));
  assert.deepEqual((await everyPage('/api/vuln/inventory', 500)).ids, stored);
  const devices = await get('/api/vuln/inventory?kind=device');
  assert.deepEqual(devices.json.items.map((a: any) => a.id), ['device:bat-in', 'device:bat-out']);
  const siteA = await get('/api/vuln/inventory?kind=device&site=site-a');
  assert.deepEqual(siteA.json.items.map((a: any) => [a.id, a.version, a.present]), [['device:bat-in', '1.2.3', true]]);
});

it('a bad query parameter is a 400 naming the parameter and its rule, keyed for the operator\'s language, never a stack trace', async () => {
  const cases: [string, string, RegExp, string][] = [
    ['/api/vuln/inventory?limit=0', 'limit', /from 1 to 500/, 'クエリパラメーター「limit」: 1 から 500 までの整数にしてください'],
    ['/api/vuln/inventory?limit=ten', 'limit', /integer/, 'クエリパラメーター「limit」: 1 から 500 までの整数にしてください'],
    ['/api/vuln/inventory?kind=robot', 'kind', /one of participant, gateway, device, software/, 'クエリパラメーター「kind」: participant, gateway, device, software のいずれかにしてください'],
    ['/api/vuln/findings?status=open,fixed', 'status', /comma-separated list of open/, 'クエリパラメーター「status」: open, notified, mitigated, patched, risk_accepted, closed をカンマ区切りで並べてください'],
    ['/api/vuln/findings?colour=red', 'colour', /unknown parameter/, 'クエリパラメーター「colour」: 不明なパラメーターです。このルートで使えるのは status, advisory, site, limit, cursor です'],
    ['/api/vuln/findings?site=a&site=b', 'site', /more than once/, 'クエリパラメーター「site」: 二度以上指定されています'],
    ['/api/alerts?cursor=not-a-cursor', 'cursor', /nextCursor this route returned/, 'クエリパラメーター「cursor」: このルートが返した nextCursor を指定してください'],
    ['/api/vuln/imports?cursor=' + Buffer.from('{"k":"x"}').toString('base64url'), 'cursor', /nextCursor/, 'クエリパラメーター「cursor」: このルートが返した nextCursor を指定してください'],
  ];
  for (const [path, parameter, rule, ja] of cases) {
    const r = await get(path);
    assert.equal(r.status, 400, `${path}: ${r.text}`);
    assert.equal(r.json.parameter, parameter, path);
    assert.match(r.json.rule, rule, path);
    assert.match(r.json.error, new RegExp(`"${parameter}"`), path);
    assert.equal(r.json.code, 'bad_query');
    // The key and its params render the same refusal in each language (the CLI's and the console's errors tree).
    assert.equal(r.json.key, 'request.badQuery', path);
    assert.equal(errorText('en', r.json.key, r.json.params), r.json.error, path);
    assert.equal(errorText('ja', r.json.key, r.json.params), ja, path);
    assert.doesNotMatch(r.text, /\.(js|ts):\d+|\bat [A-Za-z.]+ \(/, 'no stack trace');
  }
  assert.equal((await api(world.certs.alice, 'POST', '/api/alerts')).status, 405);
  assert.equal((await get('/api/vuln/nothing')).status, 404, 'the console\'s own 404 for paths no route has');
});

it('a gateway certificate is refused by the operator endpoint', async () => {
  await assert.rejects(api(world.certs.gw, 'GET', '/api/vuln/findings'));
  await assert.rejects(api(world.certs.gw, 'POST', '/api/alerts/1/ack', {}));
});

it('an operator lists the alert a rogue peer raised and acknowledges it, audited as that operator', async () => {
  const rogue = rogueWorld.certs.rogue;
  for (let i = 0; i < 10; i++) await request(agg.downstreamPort, { cert: rogue.certPem, key: rogue.keyPem, ca: world.caPem, checkServerIdentity: () => undefined });
  const listed = await waitFor(async () => {
    const r = await get('/api/alerts?status=open');
    return (r.json.items as any[]).find((a) => a.ruleId === 'mtls-refusals-from-source');
  }, { what: 'the rogue peer\'s alert in GET /api/alerts' });
  assert.equal(listed.key, '127.0.0.1');
  const paged = await everyPage('/api/alerts', 1);
  assert.equal(new Set(paged.ids).size, paged.ids.length, 'every alert once');
  assert.ok(paged.ids.includes(listed.id));

  const ack = await api(world.certs.alice, 'POST', `/api/alerts/${listed.id}/ack`, { note: 'lab scanner' });
  assert.equal(ack.status, 200, ack.text);
  assert.equal(ack.json.status, 'acknowledged');
  assert.equal(ack.json.ackedBy, 'alice', 'the operator from the certificate');
  assert.equal(ack.json.ackNote, 'lab scanner');
  assert.equal((await get('/api/alerts?status=open')).json.items.some((a: any) => a.id === listed.id), false);
  assert.equal((await get('/api/alerts?status=acknowledged')).json.items.some((a: any) => a.id === listed.id), true);

  const again = await api(world.certs.alice, 'POST', `/api/alerts/${listed.id}/ack`, {});
  assert.equal(again.status, 409, again.text);
  assert.match(again.json.error, /already acknowledged by alice/);
  const missing = await api(world.certs.alice, 'POST', '/api/alerts/99999/ack', {});
  assert.equal(missing.status, 404);
  assert.match(missing.json.error, /alert 99999: no such alert/);
  assert.equal((await api(world.certs.alice, 'POST', '/api/alerts/abc/ack', {})).status, 400);
  const forged = await api(world.certs.alice, 'POST', `/api/alerts/${listed.id}/ack`, { operator: 'mallory' });
  assert.equal(forged.status, 400, 'the operator comes from the certificate, not the body');
  assert.match(forged.json.error, /unknown field "operator"/);

  const records = () => [...readRecords(cfg.audit.dir)].map((l) => l.record).filter((r) => r !== undefined);
  await waitFor(() => records().find((r) => r.action === 'detect.alert.acknowledge' && r.actor.id === 'alice' && r.target === `alert:${listed.id}`), { what: 'the acknowledgement audited as alice' });
  const requests = records().filter((r) => r.action === 'secops.api.alert.ack');
  assert.deepEqual(requests.map((r) => [r.actor.kind, r.actor.id, r.outcome]), [
    ['operator', 'alice', 'success'], ['operator', 'alice', 'failure'], ['operator', 'alice', 'failure'], ['operator', 'alice', 'failure'], ['operator', 'alice', 'failure'],
  ]);
  assert.ok(requests.every((r) => typeof r.actor.fingerprint === 'string' && r.actor.fingerprint.length > 0), 'with the certificate\'s fingerprint');
  assert.ok(records().some((r) => r.action === 'secops.api.findings' && r.actor.id === 'alice' && r.outcome === 'success'), 'reads are audited too');
});

it('GET /api/compliance/status serves the document `erab compliance status --json` prints, one run while it is fresh', async () => {
  const first = await get('/api/compliance/status');
  assert.equal(first.status, 200, first.text.slice(0, 500));
  assert.ok(Number.isInteger(first.json.runId));
  assert.ok(first.json.controls.length > 0);
  assert.ok(first.json.controls.every((c: any) => typeof c.id === 'string' && typeof c.status === 'string'));
  assert.ok(Array.isArray(first.json.failingKankoku));
  const again = await get('/api/compliance/status');
  assert.equal(again.json.runId, first.json.runId, 'the fresh run is served again, not re-run');
  const bad = await get('/api/compliance/status?fresh=1');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.parameter, 'fresh');
});

it('the TSO\'s operator API serves the alert routes the same way (no vulnerability routes), and the TSO records its own software in its own store', async () => {
  const cfg = tsoConfigSchema.parse({
    id: 'TSO1', tls: world.tlsFiles('tso'), listen: { port: 0 }, store: { url: join(world.dir, 'tso.db') }, audit: { dir: join(world.dir, 'tso-audit') },
    contractedAggregators: [{ id: 'AGG1' }],
  });
  const secops = vtnSecops(cfg.detection);
  const tso = await startTso(cfg, secops.deps);
  try {
    const at = { port: Number(new URL(tso.status().apiUrl!).port), role: 'tso' as const, id: 'TSO1' };
    const rogue = rogueWorld.certs.rogue;
    for (let i = 0; i < 10; i++) await request(tso.vtn.port, { cert: rogue.certPem, key: rogue.keyPem, ca: world.caPem, checkServerIdentity: () => undefined });
    const alert = await waitFor(async () => ((await api(world.certs.alice, 'GET', '/api/alerts?status=open', undefined, at)).json.items as any[])[0], { what: 'the TSO\'s alert in GET /api/alerts' });
    const ack = await api(world.certs.alice, 'POST', `/api/alerts/${alert.id}/ack`, { note: 'seen' }, at);
    assert.equal(ack.status, 200, ack.text);
    assert.equal(ack.json.ackedBy, 'alice');
    assert.equal((await api(world.certs.alice, 'GET', '/api/alerts?limit=501', undefined, at)).json.parameter, 'limit');
    assert.equal((await api(world.certs.alice, 'GET', '/api/vuln/findings', undefined, at)).status, 404);
    assert.equal((await api(world.certs.alice, 'GET', '/api/status', undefined, at)).status, 200, 'the TSO\'s own routes still answer');
    await assert.rejects(api(world.certs.gw, 'GET', '/api/alerts', undefined, at));
    await waitFor(() => [...readRecords(cfg.audit.dir)].find((l) => l.record?.action === 'secops.api.alert.ack' && l.record.actor.id === 'alice' && l.record.outcome === 'success'), { what: 'the TSO audits the request as alice' });
    // Its own software (erab, Node.js, the npm tree of this process) in its own inventory store.
    const own = await openStore<SecopsTables>({ url: cfg.store.url, migrations: secopsMigrations, ignoreUnknownMigrations: true });
    try {
      const rows = await own.db.selectFrom('secops_asset').select(['id', 'version']).where('id', 'like', 'software:tso:%').execute();
      assert.ok(rows.some((r) => r.id.startsWith('software:tso:pkg:npm/erab@')), 'erab itself');
      assert.ok(rows.some((r) => r.id === 'software:tso:node' && r.version === process.versions.node), 'the Node.js it runs on');
      assert.ok(rows.some((r) => r.id.startsWith('software:tso:pkg:npm/zod@')), 'an npm dependency');
    } finally {
      await own.close();
    }
  } finally {
    await tso.stop();
  }
});
