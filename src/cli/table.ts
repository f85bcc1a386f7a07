/**
 * Human-readable tables for the CLI (the default output; `--json` is for scripts). Columns are
 * aligned by display width: a CJK character (a Japanese header, a site name) takes two cells.
 */

/** Display width of a string in a terminal: East Asian wide and fullwidth characters count 2. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    // Hangul Jamo, CJK radicals to Yi, Hangul syllables, CJK compatibility, fullwidth forms.
    const wide = (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3)
      || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6)
      || (c >= 0x20000 && c <= 0x3fffd);
    w += wide ? 2 : 1;
  }
  return w;
}

function pad(s: string, width: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(s)));
  return right ? fill + s : s + fill;
}

/** One column: its header and whether numbers are right-aligned. */
export interface Column { header: string; right?: boolean }

/**
 * The rows as an aligned table with a header line, or `empty` when there are none.
 * @example formatTable([{ header: 'id' }, { header: 'kW', right: true }], [['b1', '3.0']]) // 'id  kW\nb1 3.0\n'
 */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[], empty = ''): string {
  if (rows.length === 0) return empty ? `${empty}\n` : '';
  const widths = columns.map((c, i) => Math.max(displayWidth(c.header), ...rows.map((r) => displayWidth(r[i] ?? ''))));
  const line = (cells: readonly string[]): string => columns.map((c, i) => pad(cells[i] ?? '', widths[i]!, c.right === true)).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n') + '\n';
}
