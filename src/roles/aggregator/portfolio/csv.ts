/**
 * A strict CSV reader (RFC 4180): fields separated by commas, optionally quoted with `"`,
 * a quote inside a quoted field doubled, CRLF or LF line ends, an optional UTF-8 BOM.
 * Every record carries the line it starts on, so validation can say "line 17, capacity_w".
 * Malformed input (a stray quote, an unterminated quoted field, a record with the wrong
 * number of fields) is refused with the line; nothing is guessed.
 */
import { InvalidInputError } from '../../../core/errors.js';

export interface CsvRecord {
  /** 1-based line number where the record starts. */
  line: number;
  /** Values by header name. */
  values: Record<string, string>;
}

export interface CsvLimits {
  /** Largest number of data records. Default 1 000 000. */
  maxRecords?: number;
  /** Largest field, characters. Default 10 000. */
  maxFieldLength?: number;
}

/**
 * Parses CSV text with a header line. Header names are trimmed and lower-cased; a duplicate
 * or empty header name is refused. Blank lines are skipped.
 * @example parseCsv('a,b\n1,"x,y"\n', 'f.csv') // [{ line: 2, values: { a: '1', b: 'x,y' } }]
 */
export function parseCsv(text: string, source: string, limits: CsvLimits = {}): { header: string[]; records: CsvRecord[] } {
  const maxRecords = limits.maxRecords ?? 1_000_000;
  const maxField = limits.maxFieldLength ?? 10_000;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows: { line: number; fields: string[] }[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let blank = true;
    for (;;) {
      let value = '';
      if (text[i] === '"') {
        blank = false;
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new InvalidInputError(`${source}:${quoteLine}: quoted field is not closed before the end of the file`);
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          value += c;
          i++;
          if (value.length > maxField) throw new InvalidInputError(`${source}:${quoteLine}: field longer than ${maxField} characters`);
        }
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
          throw new InvalidInputError(`${source}:${line}: unexpected character ${JSON.stringify(next)} after a closing quote`);
        }
      } else {
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') throw new InvalidInputError(`${source}:${line}: a quote inside an unquoted field (quote the whole field and double the quote)`);
          value += text[i];
          i++;
        }
        if (value.length > maxField) throw new InvalidInputError(`${source}:${line}: field longer than ${maxField} characters`);
        if (value !== '') blank = false;
      }
      fields.push(value);
      if (text[i] === ',') {
        blank = false;
        i++;
        continue;
      }
      break;
    }
    // End of record: CRLF, LF, lone CR (old Mac) or end of text.
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    line++;
    if (!blank) rows.push({ line: startLine, fields });
    if (rows.length > maxRecords + 1) throw new InvalidInputError(`${source}: more than ${maxRecords} records`);
  }
  const head = rows.shift();
  if (!head) throw new InvalidInputError(`${source}: the file is empty (a header line is required)`);
  const header = head.fields.map((h) => h.trim().toLowerCase());
  const seen = new Set<string>();
  for (const [k, h] of header.entries()) {
    if (h === '') throw new InvalidInputError(`${source}:${head.line}: header column ${k + 1} is empty`);
    if (seen.has(h)) throw new InvalidInputError(`${source}:${head.line}: header column "${h}" appears twice`);
    seen.add(h);
  }
  const records = rows.map((r) => {
    if (r.fields.length !== header.length) {
      throw new InvalidInputError(`${source}:${r.line}: ${r.fields.length} fields, the header has ${header.length}`);
    }
    const values: Record<string, string> = {};
    header.forEach((h, k) => { values[h] = r.fields[k]!; });
    return { line: r.line, values };
  });
  return { header, records };
}
