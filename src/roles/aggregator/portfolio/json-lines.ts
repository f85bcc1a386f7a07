/**
 * Where each element of a JSON document's top-level arrays starts, so that an import error in
 * `resources[41]` can also say "line 312". JSON.parse has already accepted the text; this scan
 * only follows strings, nesting and commas.
 */

/** Map from `"<key>[<index>]"` (e.g. `resources[3]`) to its 1-based line. */
export function locateTopLevelArrayElements(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let line = 1;
  let depth = 0;
  let key: string | undefined; // last key read at depth 1
  let inTopArray: string | undefined; // key of the depth-1 array we are in
  let index = -1;
  let expectValue = false; // at depth 2 inside a top array, the next token starts an element
  let lastString = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') { line++; continue; }
    if (c === ' ' || c === '\t' || c === '\r') continue;
    if (depth === 2 && inTopArray !== undefined && expectValue && c !== ']') {
      index++;
      out.set(`${inTopArray}[${index}]`, line);
      expectValue = false;
    }
    if (c === '"') {
      let s = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') { s += text[i + 1] ?? ''; i += 2; continue; }
        if (text[i] === '\n') line++;
        s += text[i];
        i++;
      }
      lastString = s;
      continue;
    }
    if (c === ':' && depth === 1) { key = lastString; continue; }
    if (c === '{' || c === '[') {
      depth++;
      if (depth === 2 && c === '[' && key !== undefined) {
        inTopArray = key;
        index = -1;
        expectValue = true;
      }
      continue;
    }
    if (c === '}' || c === ']') {
      if (depth === 2) inTopArray = undefined;
      depth--;
      continue;
    }
    if (c === ',' && depth === 2 && inTopArray !== undefined) expectValue = true;
  }
  return out;
}
