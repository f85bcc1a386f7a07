/**
 * Feeds from a configured URL: fetched over a real socket (a loopback HTTP server standing in
 * for the feed's site), size-capped while streaming, then imported like a file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchFeed, parseFeed } from '../../src/secops/feeds/import.js';
import { REPO_ROOT } from '../repo.js';

const nvd = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'feeds', 'nvd-cve-2.0.json'));
let server: Server;
let base: string;
let endlessWritten = 0;

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/nvd.json') return void res.end(nvd);
    if (req.url === '/endless') {
      // A hostile server that never stops sending.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (res.write(chunk)) {
          endlessWritten += chunk.length;
          if (endlessWritten > 64 * 1024 * 1024) return void res.end();
        }
      };
      res.on('drain', pump);
      res.on('close', () => res.removeListener('drain', pump));
      return pump();
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('a feed is fetched from its URL and parses like the file', async () => {
  const bytes = await fetchFeed(`${base}/nvd.json`);
  assert.deepEqual(parseFeed('nvd', bytes, 'url').map((a) => a.id), ['CVE-2026-10001', 'CVE-2026-10002', 'CVE-2026-10003']);
});

test('an endless response is cut at the size limit, not read whole', async () => {
  await assert.rejects(fetchFeed(`${base}/endless`, { maxBytes: 1024 * 1024 }), /endless: more than the limit of 1048576 bytes; nothing imported/);
  assert.ok(endlessWritten < 32 * 1024 * 1024, `the server was stopped early (${endlessWritten} bytes written)`);
});

test('an HTTP error and a non-http URL are refused by name', async () => {
  await assert.rejects(fetchFeed(`${base}/missing`), /missing: HTTP 404; nothing imported/);
  await assert.rejects(fetchFeed('file:///etc/passwd'), /only http and https are fetched/);
});
