/**
 * EMIX item bases (emix:itemBase substitution group: power:powerReal, power:energyReal, ...) with
 * their SI scale codes (oadr_siscale_20b.xsd), and the one conversion to erab's W / Wh.
 */
import { type Watts, type WattHours, watts, wattHours } from '../../core/units.js';
import { NS } from './namespaces.js';
import { invalidData } from './errors.js';
import { type XmlElement, childOf, escapeText, leaf, optText, reqText } from './xml.js';

/** siScaleCode values and their powers of ten (the schema's appinfo). */
export const SI_SCALE = { p: -12, n: -9, micro: -6, m: -3, c: -2, d: -1, none: 0, k: 3, M: 6, G: 9, T: 12 } as const;
export type SiScaleCode = keyof typeof SI_SCALE;

/** Item base element names we model, each with its namespace prefix. */
export const ITEM_BASES = {
  powerReal: 'power', powerReactive: 'power', powerApparent: 'power',
  energyReal: 'power', energyReactive: 'power', energyApparent: 'power',
  voltage: 'power', current: 'oadr', frequency: 'oadr', temperature: 'oadr', Therm: 'oadr',
  currency: 'oadr', currencyPerKWh: 'oadr', currencyPerKW: 'oadr', currencyPerThm: 'oadr',
  customUnit: 'oadr', pulseCount: 'oadr',
} as const;
export type ItemBaseKind = keyof typeof ITEM_BASES;

export interface PowerAttributes {
  hertz: number;
  voltage: number;
  ac: boolean;
}

/** A unit description (emix:itemBase). `pulseFactor` only for pulseCount, `powerAttributes` for power items. */
export interface ItemBase {
  kind: ItemBaseKind;
  itemDescription: string;
  itemUnits: string;
  siScaleCode?: SiScaleCode;
  powerAttributes?: PowerAttributes;
  pulseFactor?: number;
}

const num = (s: string, field: string): number => {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v)) throw invalidData(`${field}: "${s.slice(0, 40)}" is not a number`);
  return v;
};

export const parseNumber = num;

export const parseBool = (s: string, field: string): boolean => {
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw invalidData(`${field}: "${s.slice(0, 40)}" is not a boolean`);
};

/** Finds and decodes the item base among `el`'s children, if any. */
export function decodeItemBase(el: XmlElement, path: string): ItemBase | undefined {
  for (const c of el.children) {
    const prefix = (ITEM_BASES as Record<string, string>)[c.name];
    if (prefix === undefined || c.ns !== NS[prefix as 'power' | 'oadr']) continue;
    const kind = c.name as ItemBaseKind;
    const p = `${path}/${kind}`;
    const item: ItemBase = {
      kind,
      itemDescription: reqText(c, c.ns, 'itemDescription', p),
      itemUnits: reqText(c, c.ns, 'itemUnits', p),
    };
    const scale = optText(c, NS.scale, 'siScaleCode');
    if (scale !== undefined) {
      if (!(scale in SI_SCALE)) throw invalidData(`${p}/siScaleCode: "${scale.slice(0, 20)}" is not an SI scale code`);
      item.siScaleCode = scale as SiScaleCode;
    }
    const pa = childOf(c, NS.power, 'powerAttributes');
    if (pa) {
      item.powerAttributes = {
        hertz: num(reqText(pa, NS.power, 'hertz', `${p}/powerAttributes`), 'hertz'),
        voltage: num(reqText(pa, NS.power, 'voltage', `${p}/powerAttributes`), 'voltage'),
        ac: parseBool(reqText(pa, NS.power, 'ac', `${p}/powerAttributes`), 'ac'),
      };
    }
    const pf = optText(c, NS.oadr, 'pulseFactor');
    if (pf !== undefined) item.pulseFactor = num(pf, 'pulseFactor');
    return item;
  }
  return undefined;
}

/** Serializes an item base in schema order (itemDescription, itemUnits, siScaleCode, powerAttributes). */
export function encodeItemBase(item: ItemBase): string {
  const prefix = ITEM_BASES[item.kind];
  const q = `${prefix}:${item.kind}`;
  let inner = leaf(`${prefix}:itemDescription`, item.itemDescription) + leaf(`${prefix}:itemUnits`, item.itemUnits);
  if (item.kind === 'pulseCount') inner += leaf('oadr:pulseFactor', item.pulseFactor ?? 1);
  else inner += leaf('scale:siScaleCode', item.siScaleCode ?? 'none');
  if (item.powerAttributes) {
    const a = item.powerAttributes;
    inner += `<power:powerAttributes>${leaf('power:hertz', a.hertz)}${leaf('power:voltage', a.voltage)}${leaf('power:ac', a.ac)}</power:powerAttributes>`;
  }
  return `<${q}>${inner}</${q}>`;
}

/** A real-power item in W with the given scale, e.g. `powerRealItem('k')` for kW. AC 50 Hz 100 V by default (Japan east). */
export function powerRealItem(scale: SiScaleCode = 'none', attrs: PowerAttributes = { hertz: 50, voltage: 100, ac: true }): ItemBase {
  return { kind: 'powerReal', itemDescription: 'RealPower', itemUnits: 'W', siScaleCode: scale, powerAttributes: attrs };
}

/** A real-energy item in Wh with the given scale, e.g. `energyRealItem('k')` for kWh. */
export function energyRealItem(scale: SiScaleCode = 'none'): ItemBase {
  return { kind: 'energyReal', itemDescription: 'RealEnergy', itemUnits: 'Wh', siScaleCode: scale };
}

const factor = (item: ItemBase): number => 10 ** SI_SCALE[item.siScaleCode ?? 'none'];

/**
 * The multiplier of an siScaleCode given as text (absent = none), or undefined when the code is
 * not one of the schema's: the one table every layer converts OpenADR values with.
 * @example siScaleFactor('k') // 1000
 */
export function siScaleFactor(code: string | undefined): number | undefined {
  const c = code ?? 'none';
  return Object.hasOwn(SI_SCALE, c) ? 10 ** SI_SCALE[c as SiScaleCode] : undefined;
}

/** A value expressed in a powerReal item, in W. Refuses other units (460 is for the caller to pick). */
export function toWatts(value: number, item: ItemBase): Watts {
  if (item.kind !== 'powerReal' || (item.itemUnits !== 'W' && item.itemUnits !== 'J/s')) {
    throw invalidData(`item ${item.kind} in ${escapeText(item.itemUnits)} is not real power`);
  }
  return watts(value * factor(item));
}

/** A value expressed in an energyReal item, in Wh. */
export function toWattHours(value: number, item: ItemBase): WattHours {
  if (item.kind !== 'energyReal' || item.itemUnits !== 'Wh') throw invalidData(`item ${item.kind} in ${escapeText(item.itemUnits)} is not real energy`);
  return wattHours(value * factor(item));
}

/** W to a value in the item's scale (for outgoing reports and signals). */
export function fromWatts(w: Watts, item: ItemBase): number {
  return w / factor(item);
}

/** Wh to a value in the item's scale. */
export function fromWattHours(wh: WattHours, item: ItemBase): number {
  return wh / factor(item);
}
