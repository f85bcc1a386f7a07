/**
 * The two guideline catalogs (OSCAL 1.1 JSON in ./catalogs, written from the seed texts by
 * ./catalogs/generate.mjs) and a flat view of their controls for assessment.
 *
 * The JSON is imported (not read from a path) so tsc copies it into dist/ and the package ships it.
 */
import erabJson from './catalogs/erab-v1.1.json' with { type: 'json' };
import jikayouJson from './catalogs/jikayou.json' with { type: 'json' };

export type CatalogKey = 'erab' | 'jikayou';
/** The seed's own words: 勧告 / 推奨; 参考 (ERAB Table 2), 記載なし (no level in the text), '-' (総則). */
export type Level = '勧告' | '推奨' | '参考' | '記載なし' | '-';
export type Kubun = 'A' | 'B' | 'C';
/** Roles an operator may declare (ems = EMS / gateway operator). */
export const OPERATOR_ROLES = ['tso', 'retailer', 'aggregator', 'ems'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

interface OscalProp { name: string; value: string; ns?: string }
interface OscalPart { id?: string; name: string; title?: string; prose?: string; props?: OscalProp[] }
interface OscalControl { id: string; class?: string; title: string; props?: OscalProp[]; parts?: OscalPart[] }
interface OscalGroup { id: string; title: string; controls?: OscalControl[]; parts?: OscalPart[] }
export interface OscalCatalog { catalog: { uuid: string; metadata: { title: string; version: string; 'oscal-version': string }; groups: OscalGroup[] } }

/** One control, flattened. */
export interface ComplianceControl {
  id: string;
  catalog: CatalogKey;
  group: string;
  label: string;
  title: string;
  /** ERAB: one level; 自家用: per 区分. */
  level: Level | undefined;
  levelByKubun: Record<Kubun, Level> | undefined;
  actors: OperatorRole[];
  iface: string | undefined;
  statementJa: string;
  summaryEn: string;
  verification: string;
}

export const CATALOGS: Record<CatalogKey, OscalCatalog> = {
  erab: erabJson as unknown as OscalCatalog,
  jikayou: jikayouJson as unknown as OscalCatalog,
};

function flatten(key: CatalogKey, cat: OscalCatalog): ComplianceControl[] {
  const out: ComplianceControl[] = [];
  for (const g of cat.catalog.groups) {
    for (const c of g.controls ?? []) {
      const p = (n: string) => c.props?.find((x) => x.name === n)?.value;
      const part = (n: string) => c.parts?.find((x) => x.name === n)?.prose ?? '';
      out.push({
        id: c.id, catalog: key, group: g.title, label: p('label') ?? c.id, title: c.title,
        level: p('level') as Level | undefined,
        levelByKubun: p('level-A') ? { A: p('level-A') as Level, B: p('level-B') as Level, C: p('level-C') as Level } : undefined,
        actors: (c.props ?? []).filter((x) => x.name === 'actor').map((x) => x.value as OperatorRole),
        iface: p('interface'),
        statementJa: part('statement'), summaryEn: part('overview'),
        verification: p('verification') ?? 'seed-verified',
      });
    }
  }
  return out;
}

let all: ComplianceControl[] | undefined;
/** Every control of both catalogs, in catalog order. */
export function allControls(): ComplianceControl[] {
  all ??= [...flatten('erab', CATALOGS.erab), ...flatten('jikayou', CATALOGS.jikayou)];
  return all;
}
