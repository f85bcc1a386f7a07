/**
 * EiEvent service payloads (OpenADR 2.0b Profile Specification §8.1 Event):
 * oadrRequestEvent, oadrDistributeEvent, oadrCreatedEvent (oadrResponse is in response.ts).
 */
import type { EpochMillis, Millis } from '../../core/units.js';
import {
  type EiResponse, type EiTarget, type QualifiedEventID, type XcalProperties,
  decodeDtstart, decodeDurationProp, decodeEiResponse, decodeProperties, decodeQualifiedEventID, decodeTarget,
  encodeDtstart, encodeDurationProp, encodeEiResponse, encodeProperties, encodeQualifiedEventID, encodeTarget,
  enumValue, optDtstart, optDuration, parseUnsigned, setOpt,
} from './common.js';
import { formatDateTime, parseDateTime } from './durations.js';
import { invalidData } from './errors.js';
import { NS } from './namespaces.js';
import { type ItemBase, decodeItemBase, encodeItemBase, parseNumber } from './units.js';
import { type XmlElement, childOf, childrenOf, elem, leaf, optLeaf, optText, reqText, required } from './xml.js';

export const EVENT_STATUSES = ['none', 'far', 'near', 'active', 'completed', 'cancelled'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** signalType enumeration (ei:SignalTypeEnumeratedType). */
export const SIGNAL_TYPES = [
  'delta', 'level', 'multiplier', 'price', 'priceMultiplier', 'priceRelative', 'setpoint',
  'x-loadControlCapacity', 'x-loadControlLevelOffset', 'x-loadControlPercentOffset', 'x-loadControlSetpoint',
] as const;
export type SignalType = (typeof SIGNAL_TYPES)[number];

/** signalName enumeration; extension tokens (x-...) are also allowed by the schema. */
export const SIGNAL_NAMES = [
  'SIMPLE', 'simple', 'ELECTRICITY_PRICE', 'ENERGY_PRICE', 'DEMAND_CHARGE', 'BID_PRICE', 'BID_LOAD', 'BID_ENERGY',
  'CHARGE_STATE', 'LOAD_DISPATCH', 'LOAD_CONTROL',
] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number] | `x-${string}`;

export const OPT_TYPES = ['optIn', 'optOut'] as const;
export type OptType = (typeof OPT_TYPES)[number];

export type ResponseRequired = 'always' | 'never';

/** One ei:interval of an event signal or baseline: a value held for `duration`. */
export interface SignalInterval {
  dtstart?: EpochMillis;
  duration?: Millis;
  /** xcal:uid/xcal:text — the interval's index in the specification's examples ("0", "1", ...). */
  uid?: string;
  value: number;
}

export interface EventSignal {
  intervals: SignalInterval[];
  target?: EiTarget;
  signalName: SignalName;
  signalType: SignalType;
  signalID: string;
  itemBase?: ItemBase;
  currentValue?: number;
}

export interface EventBaseline {
  dtstart: EpochMillis;
  duration: Millis;
  intervals: SignalInterval[];
  baselineID: string;
  resourceID?: string[];
  baselineName: string;
  itemBase?: ItemBase;
}

export interface EventDescriptor {
  eventID: string;
  modificationNumber: number;
  modificationDateTime?: EpochMillis;
  modificationReason?: string;
  priority?: number;
  marketContext: string;
  createdDateTime: EpochMillis;
  eventStatus: EventStatus;
  testEvent?: string;
  vtnComment?: string;
}

/** ei:eiEvent with the oadr:oadrResponseRequired that accompanies it in oadrDistributeEvent. */
export interface OadrEvent {
  descriptor: EventDescriptor;
  activePeriod: XcalProperties;
  signals: EventSignal[];
  baseline?: EventBaseline;
  target: EiTarget;
  responseRequired: ResponseRequired;
}

export interface OadrRequestEvent {
  type: 'oadrRequestEvent';
  requestID: string;
  venID: string;
  replyLimit?: number;
}

export interface OadrDistributeEvent {
  type: 'oadrDistributeEvent';
  eiResponse?: EiResponse;
  requestID: string;
  vtnID: string;
  events: OadrEvent[];
}

export interface EventResponse {
  responseCode: number;
  responseDescription?: string;
  requestID: string;
  qualifiedEventID: QualifiedEventID;
  optType: OptType;
}

export interface OadrCreatedEvent {
  type: 'oadrCreatedEvent';
  eiResponse: EiResponse;
  eventResponses?: EventResponse[];
  venID: string;
}

export type EventMessage = OadrRequestEvent | OadrDistributeEvent | OadrCreatedEvent;

// ---------------------------------------------------------------- encode

export function encodeIntervals(intervals: SignalInterval[], payload: (v: number) => string): string {
  return elem('strm:intervals', intervals.map((i) => {
    let s = '';
    if (i.dtstart !== undefined) s += encodeDtstart(i.dtstart);
    if (i.duration !== undefined) s += encodeDurationProp('xcal:duration', i.duration);
    if (i.uid !== undefined) s += elem('xcal:uid', leaf('xcal:text', i.uid));
    return elem('ei:interval', s + payload(i.value));
  }).join(''));
}

const signalPayload = (v: number): string => elem('ei:signalPayload', elem('ei:payloadFloat', leaf('ei:value', v)));

function encodeSignal(s: EventSignal): string {
  let inner = encodeIntervals(s.intervals, signalPayload);
  if (s.target) inner += encodeTarget(s.target);
  inner += leaf('ei:signalName', s.signalName) + leaf('ei:signalType', s.signalType) + leaf('ei:signalID', s.signalID);
  if (s.itemBase) inner += encodeItemBase(s.itemBase);
  if (s.currentValue !== undefined) inner += elem('ei:currentValue', elem('ei:payloadFloat', leaf('ei:value', s.currentValue)));
  return elem('ei:eiEventSignal', inner);
}

function encodeBaseline(b: EventBaseline): string {
  return elem('ei:eiEventBaseline',
    encodeDtstart(b.dtstart) + encodeDurationProp('xcal:duration', b.duration) + encodeIntervals(b.intervals, signalPayload) +
    leaf('ei:baselineID', b.baselineID) + (b.resourceID ?? []).map((r) => leaf('ei:resourceID', r)).join('') +
    leaf('ei:baselineName', b.baselineName) + (b.itemBase ? encodeItemBase(b.itemBase) : ''));
}

/** Serializes one oadr:oadrEvent (ei:eiEvent + oadr:oadrResponseRequired). */
export function encodeOadrEvent(e: OadrEvent): string {
  const d = e.descriptor;
  const descriptor = elem('ei:eventDescriptor',
    leaf('ei:eventID', d.eventID) + leaf('ei:modificationNumber', d.modificationNumber) +
    optLeaf('ei:modificationDateTime', d.modificationDateTime === undefined ? undefined : formatDateTime(d.modificationDateTime)) +
    optLeaf('ei:modificationReason', d.modificationReason) + optLeaf('ei:priority', d.priority) +
    elem('ei:eiMarketContext', leaf('emix:marketContext', d.marketContext)) +
    leaf('ei:createdDateTime', formatDateTime(d.createdDateTime)) + leaf('ei:eventStatus', d.eventStatus) +
    optLeaf('ei:testEvent', d.testEvent) + optLeaf('ei:vtnComment', d.vtnComment));
  const active = elem('ei:eiActivePeriod', encodeProperties(e.activePeriod) + '<xcal:components xsi:nil="true"/>');
  const signals = elem('ei:eiEventSignals', e.signals.map(encodeSignal).join('') + (e.baseline ? encodeBaseline(e.baseline) : ''));
  return elem('oadr:oadrEvent', elem('ei:eiEvent', descriptor + active + signals + encodeTarget(e.target)) +
    leaf('oadr:oadrResponseRequired', e.responseRequired));
}

export function encodeEvent(m: EventMessage): string {
  const open = `<oadr:${m.type} ei:schemaVersion="2.0b">`;
  const close = `</oadr:${m.type}>`;
  switch (m.type) {
    case 'oadrRequestEvent':
      return open + elem('pyld:eiRequestEvent', leaf('pyld:requestID', m.requestID) + leaf('ei:venID', m.venID) +
        optLeaf('pyld:replyLimit', m.replyLimit)) + close;
    case 'oadrDistributeEvent':
      return open + (m.eiResponse ? encodeEiResponse(m.eiResponse) : '') + leaf('pyld:requestID', m.requestID) +
        leaf('ei:vtnID', m.vtnID) + m.events.map(encodeOadrEvent).join('') + close;
    case 'oadrCreatedEvent': {
      const responses = m.eventResponses === undefined ? '' : elem('ei:eventResponses', m.eventResponses.map((r) =>
        elem('ei:eventResponse', leaf('ei:responseCode', String(r.responseCode).padStart(3, '0')) +
          optLeaf('ei:responseDescription', r.responseDescription) + leaf('pyld:requestID', r.requestID) +
          encodeQualifiedEventID(r.qualifiedEventID) + leaf('ei:optType', r.optType))).join(''));
      return open + elem('pyld:eiCreatedEvent', encodeEiResponse(m.eiResponse) + responses + leaf('ei:venID', m.venID)) + close;
    }
  }
}

// ---------------------------------------------------------------- decode

/** Decodes strm:intervals; `value` extracts the number from one ei:interval's payload. */
export function decodeIntervals(parent: XmlElement, path: string, value: (interval: XmlElement, p: string) => number): SignalInterval[] {
  const ints = required(parent, NS.strm, 'intervals', path);
  return childrenOf(ints, NS.ei, 'interval').map((iv, n) => {
    const p = `${path}/intervals/interval[${n}]`;
    const out: SignalInterval = { value: value(iv, p) };
    setOpt(out, 'dtstart', optDtstart(iv, p));
    setOpt(out, 'duration', optDuration(iv, NS.xcal, 'duration', p));
    const uid = childOf(iv, NS.xcal, 'uid');
    if (uid) out.uid = reqText(uid, NS.xcal, 'text', `${p}/uid`);
    return out;
  });
}

const signalValue = (iv: XmlElement, p: string): number => {
  const sp = required(iv, NS.ei, 'signalPayload', p);
  const pf = required(sp, NS.ei, 'payloadFloat', `${p}/signalPayload`);
  return parseNumber(reqText(pf, NS.ei, 'value', `${p}/signalPayload/payloadFloat`), `${p}/value`);
};

function decodeSignal(el: XmlElement, p: string): EventSignal {
  const s: EventSignal = {
    intervals: decodeIntervals(el, p, signalValue),
    signalName: enumValue(reqText(el, NS.ei, 'signalName', p), SIGNAL_NAMES, `${p}/signalName`, true) as SignalName,
    signalType: enumValue(reqText(el, NS.ei, 'signalType', p), SIGNAL_TYPES, `${p}/signalType`),
    signalID: reqText(el, NS.ei, 'signalID', p),
  };
  const t = childOf(el, NS.ei, 'eiTarget');
  if (t) s.target = decodeTarget(t);
  setOpt(s, 'itemBase', decodeItemBase(el, p));
  const cv = childOf(el, NS.ei, 'currentValue');
  if (cv) s.currentValue = parseNumber(reqText(required(cv, NS.ei, 'payloadFloat', `${p}/currentValue`), NS.ei, 'value', `${p}/currentValue`), `${p}/currentValue`);
  return s;
}

export function decodeOadrEvent(oe: XmlElement, p: string): OadrEvent {
  const ev = required(oe, NS.ei, 'eiEvent', p);
  const ep = `${p}/eiEvent`;
  const de = required(ev, NS.ei, 'eventDescriptor', ep);
  const dp = `${ep}/eventDescriptor`;
  const descriptor: EventDescriptor = {
    eventID: reqText(de, NS.ei, 'eventID', dp),
    modificationNumber: parseUnsigned(reqText(de, NS.ei, 'modificationNumber', dp), `${dp}/modificationNumber`),
    marketContext: reqText(required(de, NS.ei, 'eiMarketContext', dp), NS.emix, 'marketContext', `${dp}/eiMarketContext`),
    createdDateTime: parseDateTime(reqText(de, NS.ei, 'createdDateTime', dp), `${dp}/createdDateTime`),
    eventStatus: enumValue(reqText(de, NS.ei, 'eventStatus', dp), EVENT_STATUSES, `${dp}/eventStatus`),
  };
  const mdt = optText(de, NS.ei, 'modificationDateTime');
  if (mdt !== undefined) descriptor.modificationDateTime = parseDateTime(mdt, `${dp}/modificationDateTime`);
  setOpt(descriptor, 'modificationReason', optText(de, NS.ei, 'modificationReason'));
  const prio = optText(de, NS.ei, 'priority');
  if (prio !== undefined) descriptor.priority = parseUnsigned(prio, `${dp}/priority`);
  setOpt(descriptor, 'testEvent', optText(de, NS.ei, 'testEvent'));
  setOpt(descriptor, 'vtnComment', optText(de, NS.ei, 'vtnComment'));

  const ap = required(ev, NS.ei, 'eiActivePeriod', ep);
  const sigs = required(ev, NS.ei, 'eiEventSignals', ep);
  const signals = childrenOf(sigs, NS.ei, 'eiEventSignal').map((s, i) => decodeSignal(s, `${ep}/eiEventSignals/eiEventSignal[${i}]`));
  if (signals.length === 0) throw invalidData(`${ep}/eiEventSignals: at least one eiEventSignal is required`);
  const out: OadrEvent = {
    descriptor,
    activePeriod: decodeProperties(ap, `${ep}/eiActivePeriod`),
    signals,
    target: decodeTarget(required(ev, NS.ei, 'eiTarget', ep)),
    responseRequired: enumValue(reqText(oe, NS.oadr, 'oadrResponseRequired', p), ['always', 'never'] as const, `${p}/oadrResponseRequired`),
  };
  const bl = childOf(sigs, NS.ei, 'eiEventBaseline');
  if (bl) {
    const bp = `${ep}/eiEventSignals/eiEventBaseline`;
    const b: EventBaseline = {
      dtstart: decodeDtstart(required(bl, NS.xcal, 'dtstart', bp), `${bp}/dtstart`),
      duration: decodeDurationProp(required(bl, NS.xcal, 'duration', bp), `${bp}/duration`),
      intervals: decodeIntervals(bl, bp, signalValue),
      baselineID: reqText(bl, NS.ei, 'baselineID', bp),
      baselineName: reqText(bl, NS.ei, 'baselineName', bp),
    };
    const rids = childrenOf(bl, NS.ei, 'resourceID').map((r) => r.text);
    if (rids.length) b.resourceID = rids;
    setOpt(b, 'itemBase', decodeItemBase(bl, bp));
    out.baseline = b;
  }
  return out;
}

export function decodeEvent(el: XmlElement): EventMessage | undefined {
  const p = `oadr:${el.name}`;
  switch (el.name) {
    case 'oadrRequestEvent': {
      const r = required(el, NS.pyld, 'eiRequestEvent', p);
      const m: OadrRequestEvent = {
        type: el.name,
        requestID: reqText(r, NS.pyld, 'requestID', `${p}/eiRequestEvent`),
        venID: reqText(r, NS.ei, 'venID', `${p}/eiRequestEvent`),
      };
      const lim = optText(r, NS.pyld, 'replyLimit');
      if (lim !== undefined) m.replyLimit = parseUnsigned(lim, `${p}/replyLimit`);
      return m;
    }
    case 'oadrDistributeEvent': {
      const m: OadrDistributeEvent = {
        type: el.name,
        requestID: reqText(el, NS.pyld, 'requestID', p),
        vtnID: reqText(el, NS.ei, 'vtnID', p),
        events: childrenOf(el, NS.oadr, 'oadrEvent').map((e, i) => decodeOadrEvent(e, `${p}/oadrEvent[${i}]`)),
      };
      if (childOf(el, NS.ei, 'eiResponse')) m.eiResponse = decodeEiResponse(el, p);
      return m;
    }
    case 'oadrCreatedEvent': {
      const c = required(el, NS.pyld, 'eiCreatedEvent', p);
      const cp = `${p}/eiCreatedEvent`;
      const m: OadrCreatedEvent = { type: el.name, eiResponse: decodeEiResponse(c, cp), venID: reqText(c, NS.ei, 'venID', cp) };
      const ers = childOf(c, NS.ei, 'eventResponses');
      if (ers) {
        m.eventResponses = childrenOf(ers, NS.ei, 'eventResponse').map((r, i) => {
          const rp = `${cp}/eventResponses/eventResponse[${i}]`;
          const code = reqText(r, NS.ei, 'responseCode', rp);
          if (!/^[0-9]{3}$/.test(code)) throw invalidData(`${rp}/responseCode: "${code.slice(0, 20)}" is not a 3-digit code`);
          const er: EventResponse = {
            responseCode: Number(code),
            requestID: reqText(r, NS.pyld, 'requestID', rp),
            qualifiedEventID: decodeQualifiedEventID(required(r, NS.ei, 'qualifiedEventID', rp), `${rp}/qualifiedEventID`),
            optType: enumValue(reqText(r, NS.ei, 'optType', rp), OPT_TYPES, `${rp}/optType`),
          };
          setOpt(er, 'responseDescription', optText(r, NS.ei, 'responseDescription'));
          return er;
        });
      }
      return m;
    }
    default:
      return undefined;
  }
}
