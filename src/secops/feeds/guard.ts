/**
 * The front door of every feed: size, encoding, nesting depth, and for XML no DTD at all.
 *
 * Feeds come from the internet or from files an operator downloaded; a hostile or damaged one
 * must be refused whole, with a message naming the input and the rule, before anything is
 * written (the importer parses the complete file first and writes in one transaction).
 * - size: at most `maxBytes` (default 64 MiB: a full NVD year is ~50 MiB per 2000-record page set
 *   split by the API into pages far smaller than that);
 * - UTF-8 only, strictly decoded (no replacement characters hiding garbage);
 * - JSON nesting at most `maxDepth` (64), checked by a linear scan before JSON.parse, so a
 *   deep document cannot exhaust the stack; a truncated document fails JSON.parse and is named;
 * - XML: a DOCTYPE (and with it every DTD, internal entity and external entity) is refused
 *   outright; the parser runs with entity processing limited to the five predefined entities,
 *   tag nesting limited, and validation on (so a truncated file is refused).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { InvalidInputError } from '../../core/errors.js';

export const DEFAULT_MAX_FEED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 64;

export interface FeedLimits {
  maxBytes?: number;
  maxDepth?: number;
}

const refuse = (name: string, rule: string) => new InvalidInputError(`feed ${name}: ${rule}; nothing imported`, { code: 'feed_refused' });

/** Checks the size and decodes strict UTF-8 (a BOM is dropped). */
export function feedText(bytes: Uint8Array | string, name: string, limits: FeedLimits = {}): string {
  const max = limits.maxBytes ?? DEFAULT_MAX_FEED_BYTES;
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > max) throw refuse(name, `${size} bytes is more than the limit of ${max}`);
  if (size === 0) throw refuse(name, 'the file is empty');
  let text: string;
  if (typeof bytes === 'string') text = bytes;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw refuse(name, 'not valid UTF-8');
    }
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The deepest nesting of arrays and objects, scanning once and skipping strings. */
function jsonDepth(text: string, limit: number, name: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) throw refuse(name, `JSON nested deeper than ${limit} levels`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

/**
 * Parses a JSON feed under the limits.
 * @throws InvalidInputError naming the feed and the rule (size, UTF-8, depth, truncated/malformed)
 */
export function parseFeedJson(bytes: Uint8Array | string, name: string, limits: FeedLimits = {}): unknown {
  const text = feedText(bytes, name, limits);
  jsonDepth(text, limits.maxDepth ?? DEFAULT_MAX_DEPTH, name);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw refuse(name, `truncated or malformed JSON (${(err as Error).message})`);
  }
}

/** Tags that repeat in JVN documents and must always be arrays, whatever their count. */
const XML_ARRAYS = new Set(['item', 'cpe', 'Cpe', 'references', 'cvss', 'Cvss', 'AffectedItem', 'VersionNumber', 'SolutionItem', 'RelatedItem', 'Vulinfo', 'ImpactItem', 'ProductItem']);

/**
 * Parses an XML feed under the limits; namespace prefixes are removed (`sec:cpe` → `cpe`),
 * attributes are `@_name`, text next to attributes is `#text`.
 * @throws InvalidInputError naming the feed and the rule (DOCTYPE/entities, size, depth, malformed)
 */
export function parseFeedXml(bytes: Uint8Array | string, name: string, limits: FeedLimits = {}): Record<string, unknown> {
  const text = feedText(bytes, name, limits);
  // No DTD at all: internal entities (billion laughs), external entities (XXE) and parameter
  // entities all need one. Feeds we read (JVNRSS, VULDEF) never carry a DOCTYPE.
  if (/<!DOCTYPE/i.test(text)) throw refuse(name, 'XML with a DOCTYPE (DTD, entity declarations) is refused');
  if (/<!ENTITY/i.test(text)) throw refuse(name, 'XML entity declarations are refused');
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) throw refuse(name, `truncated or malformed XML (line ${valid.err.line}: ${valid.err.msg})`);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    // Only the five predefined and numeric character references remain (no DTD can declare
    // more); their expansions are bounded by the size limit, so the counters are set to it.
    processEntities: { enabled: true, maxEntityCount: 0, maxTotalExpansions: limits.maxBytes ?? DEFAULT_MAX_FEED_BYTES, maxExpandedLength: limits.maxBytes ?? DEFAULT_MAX_FEED_BYTES },
    htmlEntities: false,
    maxNestedTags: maxDepth,
    isArray: (tag) => XML_ARRAYS.has(tag),
  });
  try {
    return parser.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw refuse(name, `XML refused by the parser (${(err as Error).message})`);
  }
}
