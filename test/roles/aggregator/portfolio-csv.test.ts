import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCsv } from '../../../src/roles/aggregator/portfolio/csv.js';
import { locateTopLevelArrayElements } from '../../../src/roles/aggregator/portfolio/json-lines.js';

test('CSV: BOM, CRLF, quoted commas, quotes and newlines, and line numbers of records', () => {
  const text = '\uFEFFa,B , c\r\n1,"x, y","say ""hi"""\r\n\r\n2,"multi\nline",z\n3,,\n';
  const { header, records } = parseCsv(text, 't.csv');
  assert.deepEqual(header, ['a', 'b', 'c']);
  assert.deepEqual(records, [
    { line: 2, values: { a: '1', b: 'x, y', c: 'say "hi"' } },
    { line: 4, values: { a: '2', b: 'multi\nline', c: 'z' } },
    { line: 6, values: { a: '3', b: '', c: '' } },
  ]);
});

test('CSV: a duplicate or empty header, too many records or an oversized field is refused', () => {
  assert.throws(() => parseCsv('a,a\n', 't.csv'), /t\.csv:1: header column "a" appears twice/);
  assert.throws(() => parseCsv('a,,b\n', 't.csv'), /t\.csv:1: header column 2 is empty/);
  assert.throws(() => parseCsv('a\n1\n2\n3\n', 't.csv', { maxRecords: 2 }), /more than 2 records/);
  assert.throws(() => parseCsv(`a\n${'x'.repeat(20)}\n`, 't.csv', { maxFieldLength: 10 }), /t\.csv:2: field longer than 10/);
  assert.throws(() => parseCsv(`a\n"${'x'.repeat(20)}"\n`, 't.csv', { maxFieldLength: 10 }), /t\.csv:2: field longer than 10/);
});

test('CSV: any table written with RFC 4180 quoting reads back unchanged (property)', () => {
  const cell = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', ',', '"', '\n', '\r\n', '電', '池'), maxLength: 12 });
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }).chain((cols) => fc.array(fc.array(cell, { minLength: cols, maxLength: cols }), { minLength: 1, maxLength: 8 }).map((rows) => ({ cols, rows }))), ({ cols, rows }) => {
      const header = Array.from({ length: cols }, (_, i) => `c${i}`);
      const quote = (v: string) => `"${v.replace(/"/g, '""')}"`;
      const text = [header.join(','), ...rows.map((r) => r.map(quote).join(','))].join('\r\n');
      const parsed = parseCsv(text, 'p.csv');
      assert.deepEqual(parsed.records.map((r) => header.map((h) => r.values[h])), rows);
      // Each record starts on the line after the previous record's newlines.
      let line = 2;
      for (const [i, r] of parsed.records.entries()) {
        assert.equal(r.line, line);
        line += 1 + rows[i]!.join('').split('\n').length - 1;
      }
    }),
    { numRuns: 300 },
  );
});

test('JSON: each element of the top-level arrays is located by its first line', () => {
  const text = '{\n  "format": "x",\n  "sites": [\n    { "id": "a",\n      "name": "[not, an] array" },\n    {"id": "b"}\n  ],\n  "resources": [{"id": "r\\"1"}, {"id": "r2", "nested": [1, {"x": [2]}]},\n    {"id": "r3"}]\n}';
  JSON.parse(text);
  const at = locateTopLevelArrayElements(text);
  assert.deepEqual([...at], [['sites[0]', 4], ['sites[1]', 6], ['resources[0]', 8], ['resources[1]', 8], ['resources[2]', 9]]);
});
