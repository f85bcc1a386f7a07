/**
 * Building blocks shared by several OpenADR 2.0b message families: ei:eiResponse, ei:eiTarget,
 * xCal properties / dtstart / duration, qualified event ids.
 */
import type { EpochMillis, Millis } from '../../core/units.js';
import { formatDateTime, formatDuration, parseDateTime, parseDuration } from './durations.js';
import { invalidData } from './errors.js';
import { NS } from './namespaces.js';
import { type XmlElement, childOf, childrenOf, elem, leaf, optLeaf, optText, reqText, required } from './xml.js';

/** ei:eiResponse: the outcome of a request, echoing its requestID (OpenADR 2.0b §8.6). */
export interface EiResponse {
  responseCode: number;
  responseDescription?: string;
  requestID: string;
}

export function decodeEiResponse(parent: XmlElement, path: string, name = 'eiResponse'): EiResponse {
  const el = required(parent, NS.ei, name, path);
  const p = `${path}/${name}`;
  const code = reqText(el, NS.ei, 'responseCode', p);
  if (!/^[0-9]{3}$/.test(code)) throw invalidData(`${p}/responseCode: "${code.slice(0, 20)}" is not a 3-digit code`);
  const r: EiResponse = { responseCode: Number(code), requestID: reqText(el, NS.pyld, 'requestID', p) };
  const d = optText(el, NS.ei, 'responseDescription');
  if (d !== undefined) r.responseDescription = d;
  return r;
}

export function encodeEiResponse(r: EiResponse, qname = 'ei:eiResponse'): string {
  return elem(
    qname,
    leaf('ei:responseCode', String(r.responseCode).padStart(3, '0')) +
      optLeaf('ei:responseDescription', r.responseDescription) +
      leaf('pyld:requestID', r.requestID),
  );
}

/** ei:eiTarget (EiTargetType): who an event, signal or opt applies to. Lists may be empty. */
export interface EiTarget {
  aggregatedPnode?: string[];
  endDeviceAsset?: string[];
  meterAsset?: string[];
  pnode?: string[];
  serviceDeliveryPoint?: string[];
  groupID?: string[];
  groupName?: string[];
  resourceID?: string[];
  venID?: string[];
  partyID?: string[];
}

const POWER_NODE = ['aggregatedPnode', 'pnode', 'serviceDeliveryPoint'] as const;
const POWER_MRID = ['endDeviceAsset', 'meterAsset'] as const;
const EI_IDS = ['groupID', 'groupName', 'resourceID', 'venID', 'partyID'] as const;

export function decodeTarget(el: XmlElement): EiTarget {
  const t: EiTarget = {};
  for (const k of POWER_NODE) {
    const v = childrenOf(el, NS.power, k).map((c) => reqText(c, NS.power, 'node', k));
    if (v.length) t[k] = v;
  }
  for (const k of POWER_MRID) {
    const v = childrenOf(el, NS.power, k).map((c) => reqText(c, NS.power, 'mrid', k));
    if (v.length) t[k] = v;
  }
  for (const k of EI_IDS) {
    const v = childrenOf(el, NS.ei, k).map((c) => c.text);
    if (v.length) t[k] = v;
  }
  return t;
}

/** Serializes the target's contents in schema order (without the wrapping element). */
export function encodeTargetInner(t: EiTarget): string {
  let s = '';
  for (const n of t.aggregatedPnode ?? []) s += elem('power:aggregatedPnode', leaf('power:node', n));
  for (const n of t.endDeviceAsset ?? []) s += elem('power:endDeviceAsset', leaf('power:mrid', n));
  for (const n of t.meterAsset ?? []) s += elem('power:meterAsset', leaf('power:mrid', n));
  for (const n of t.pnode ?? []) s += elem('power:pnode', leaf('power:node', n));
  for (const n of t.serviceDeliveryPoint ?? []) s += elem('power:serviceDeliveryPoint', leaf('power:node', n));
  for (const k of EI_IDS) for (const v of t[k] ?? []) s += leaf(`ei:${k}`, v);
  return s;
}

export const encodeTarget = (t: EiTarget, qname = 'ei:eiTarget'): string => elem(qname, encodeTargetInner(t));

/** True when the target names nothing (applies to every VEN of the program). */
export const targetIsEmpty = (t: EiTarget): boolean => Object.values(t).every((v) => !v || v.length === 0);

// ---------------------------------------------------------------- xCal pieces

/** xcal:dtstart/xcal:date-time */
export function decodeDtstart(el: XmlElement, path: string): EpochMillis {
  return parseDateTime(reqText(el, NS.xcal, 'date-time', path), `${path}/date-time`);
}
export const encodeDtstart = (t: number): string => elem('xcal:dtstart', leaf('xcal:date-time', formatDateTime(t)));

/** A DurationPropType element (xcal:duration, xcal:granularity, ei:x-eiNotification...): a wrapper around xcal:duration. */
export function decodeDurationProp(el: XmlElement, path: string): Millis {
  return parseDuration(reqText(el, NS.xcal, 'duration', path), `${path}/duration`);
}
export const encodeDurationProp = (qname: string, ms: number): string => elem(qname, leaf('xcal:duration', formatDuration(ms)));

export const optDtstart = (el: XmlElement, path: string): EpochMillis | undefined => {
  const d = childOf(el, NS.xcal, 'dtstart');
  return d ? decodeDtstart(d, `${path}/dtstart`) : undefined;
};
export const optDuration = (el: XmlElement, ns: string, name: string, path: string): Millis | undefined => {
  const d = childOf(el, ns, name);
  return d ? decodeDurationProp(d, `${path}/${name}`) : undefined;
};

/** xcal:properties as used by eiActivePeriod, vavailability/available and reportInterval. */
export interface XcalProperties {
  dtstart: EpochMillis;
  duration: Millis;
  /** tolerance/tolerate/startafter: the randomisation window (OpenADR 2.0b §8.1.x "start after"). */
  startAfter?: Millis;
  notification?: Millis;
  rampUp?: Millis;
  recovery?: Millis;
}

export function decodeProperties(parent: XmlElement, path: string): XcalProperties {
  const p = `${path}/properties`;
  const el = required(parent, NS.xcal, 'properties', path);
  const props: XcalProperties = {
    dtstart: decodeDtstart(required(el, NS.xcal, 'dtstart', p), `${p}/dtstart`),
    duration: decodeDurationProp(required(el, NS.xcal, 'duration', p), `${p}/duration`),
  };
  const tol = childOf(el, NS.xcal, 'tolerance');
  const sa = tol ? childOf(childOf(tol, NS.xcal, 'tolerate') ?? tol, NS.xcal, 'startafter') : undefined;
  if (sa) props.startAfter = parseDuration(sa.text, `${p}/tolerance/tolerate/startafter`);
  const n = optDuration(el, NS.ei, 'x-eiNotification', p);
  if (n !== undefined) props.notification = n;
  const r = optDuration(el, NS.ei, 'x-eiRampUp', p);
  if (r !== undefined) props.rampUp = r;
  const rc = optDuration(el, NS.ei, 'x-eiRecovery', p);
  if (rc !== undefined) props.recovery = rc;
  return props;
}

export function encodeProperties(p: XcalProperties): string {
  let s = encodeDtstart(p.dtstart) + encodeDurationProp('xcal:duration', p.duration);
  if (p.startAfter !== undefined) s += elem('xcal:tolerance', elem('xcal:tolerate', leaf('xcal:startafter', formatDuration(p.startAfter))));
  if (p.notification !== undefined) s += encodeDurationProp('ei:x-eiNotification', p.notification);
  if (p.rampUp !== undefined) s += encodeDurationProp('ei:x-eiRampUp', p.rampUp);
  if (p.recovery !== undefined) s += encodeDurationProp('ei:x-eiRecovery', p.recovery);
  return elem('xcal:properties', s);
}

/** ei:qualifiedEventID */
export interface QualifiedEventID {
  eventID: string;
  modificationNumber: number;
}

export function parseUnsigned(s: string, field: string): number {
  if (!/^\d{1,10}$/.test(s) || Number(s) > 4294967295) throw invalidData(`${field}: "${s.slice(0, 20)}" is not an unsignedInt`);
  return Number(s);
}

export function decodeQualifiedEventID(el: XmlElement, path: string): QualifiedEventID {
  return {
    eventID: reqText(el, NS.ei, 'eventID', path),
    modificationNumber: parseUnsigned(reqText(el, NS.ei, 'modificationNumber', path), `${path}/modificationNumber`),
  };
}
export const encodeQualifiedEventID = (q: QualifiedEventID): string =>
  elem('ei:qualifiedEventID', leaf('ei:eventID', q.eventID) + leaf('ei:modificationNumber', q.modificationNumber));

/** One-of check for enumerations; extension tokens `x-...` are allowed where the schema unions EiExtensionTokenType. */
export function enumValue<T extends string>(s: string, allowed: readonly T[], field: string, extensions = false): T {
  if ((allowed as readonly string[]).includes(s)) return s as T;
  if (extensions && /^x-\S/.test(s)) return s as T;
  throw invalidData(`${field}: "${s.slice(0, 40)}" is not one of ${allowed.join(', ')}`);
}

/** Assigns an optional property only when present, so decoded objects never carry `undefined` keys. */
export const setOpt = <T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined): void => {
  if (v !== undefined) o[k] = v;
};
