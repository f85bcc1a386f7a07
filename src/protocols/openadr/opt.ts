/**
 * EiOpt service payloads (OpenADR 2.0b Profile Specification §8.5 Opt): oadrCreateOpt,
 * oadrCreatedOpt, oadrCancelOpt, oadrCanceledOpt. An opt is either an availability schedule
 * (xcal:vavailability) or an opt in/out of one event (ei:qualifiedEventID).
 */
import type { EpochMillis } from '../../core/units.js';
import {
  type EiResponse, type EiTarget, type QualifiedEventID, type XcalProperties,
  decodeEiResponse, decodeProperties, decodeQualifiedEventID, decodeTarget, encodeEiResponse, encodeProperties,
  encodeQualifiedEventID, encodeTarget, enumValue, setOpt,
} from './common.js';
import { formatDateTime, parseDateTime } from './durations.js';
import { OPT_TYPES, type OptType } from './event.js';
import { NS } from './namespaces.js';
import { type XmlElement, childOf, childrenOf, elem, leaf, optLeaf, optText, reqText, required } from './xml.js';

export const OPT_REASONS = [
  'economic', 'emergency', 'mustRun', 'notParticipating', 'outageRunStatus', 'overrideStatus', 'participating', 'x-schedule',
] as const;
export type OptReason = (typeof OPT_REASONS)[number] | `x-${string}`;

export interface OadrCreateOpt {
  type: 'oadrCreateOpt';
  optID: string;
  optType: OptType;
  optReason: OptReason;
  marketContext?: string;
  venID: string;
  /** Availability schedule: each entry is one xcal:available period. */
  vavailability?: XcalProperties[];
  createdDateTime: EpochMillis;
  requestID: string;
  qualifiedEventID?: QualifiedEventID;
  target: EiTarget;
  deviceClass?: EiTarget;
}
export interface OadrCreatedOpt {
  type: 'oadrCreatedOpt';
  eiResponse: EiResponse;
  optID: string;
}
export interface OadrCancelOpt {
  type: 'oadrCancelOpt';
  requestID: string;
  optID: string;
  venID: string;
}
export interface OadrCanceledOpt {
  type: 'oadrCanceledOpt';
  eiResponse: EiResponse;
  optID?: string;
}
export type OptMessage = OadrCreateOpt | OadrCreatedOpt | OadrCancelOpt | OadrCanceledOpt;

export function encodeOpt(m: OptMessage): string {
  const open = `<oadr:${m.type} ei:schemaVersion="2.0b">`;
  const close = `</oadr:${m.type}>`;
  switch (m.type) {
    case 'oadrCreateOpt':
      return open + leaf('ei:optID', m.optID) + leaf('ei:optType', m.optType) + leaf('ei:optReason', m.optReason) +
        optLeaf('emix:marketContext', m.marketContext) + leaf('ei:venID', m.venID) +
        (m.vavailability ? elem('xcal:vavailability', elem('xcal:components', m.vavailability.map((a) => elem('xcal:available', encodeProperties(a))).join(''))) : '') +
        leaf('ei:createdDateTime', formatDateTime(m.createdDateTime)) + leaf('pyld:requestID', m.requestID) +
        (m.qualifiedEventID ? encodeQualifiedEventID(m.qualifiedEventID) : '') + encodeTarget(m.target) +
        (m.deviceClass ? encodeTarget(m.deviceClass, 'oadr:oadrDeviceClass') : '') + close;
    case 'oadrCreatedOpt':
      return open + encodeEiResponse(m.eiResponse) + leaf('ei:optID', m.optID) + close;
    case 'oadrCancelOpt':
      return open + leaf('pyld:requestID', m.requestID) + leaf('ei:optID', m.optID) + leaf('ei:venID', m.venID) + close;
    case 'oadrCanceledOpt':
      return open + encodeEiResponse(m.eiResponse) + optLeaf('ei:optID', m.optID) + close;
  }
}

export function decodeOpt(el: XmlElement): OptMessage | undefined {
  const p = `oadr:${el.name}`;
  switch (el.name) {
    case 'oadrCreateOpt': {
      const m: OadrCreateOpt = {
        type: el.name,
        optID: reqText(el, NS.ei, 'optID', p),
        optType: enumValue(reqText(el, NS.ei, 'optType', p), OPT_TYPES, `${p}/optType`),
        optReason: enumValue(reqText(el, NS.ei, 'optReason', p), OPT_REASONS, `${p}/optReason`, true) as OptReason,
        venID: reqText(el, NS.ei, 'venID', p),
        createdDateTime: parseDateTime(reqText(el, NS.ei, 'createdDateTime', p), `${p}/createdDateTime`),
        requestID: reqText(el, NS.pyld, 'requestID', p),
        target: decodeTarget(required(el, NS.ei, 'eiTarget', p)),
      };
      setOpt(m, 'marketContext', optText(el, NS.emix, 'marketContext'));
      const va = childOf(el, NS.xcal, 'vavailability');
      if (va) {
        const comps = required(va, NS.xcal, 'components', `${p}/vavailability`);
        m.vavailability = childrenOf(comps, NS.xcal, 'available').map((a, i) => decodeProperties(a, `${p}/vavailability/components/available[${i}]`));
      }
      const q = childOf(el, NS.ei, 'qualifiedEventID');
      if (q) m.qualifiedEventID = decodeQualifiedEventID(q, `${p}/qualifiedEventID`);
      const dc = childOf(el, NS.oadr, 'oadrDeviceClass');
      if (dc) m.deviceClass = decodeTarget(dc);
      return m;
    }
    case 'oadrCreatedOpt':
      return { type: el.name, eiResponse: decodeEiResponse(el, p), optID: reqText(el, NS.ei, 'optID', p) };
    case 'oadrCancelOpt':
      return { type: el.name, requestID: reqText(el, NS.pyld, 'requestID', p), optID: reqText(el, NS.ei, 'optID', p), venID: reqText(el, NS.ei, 'venID', p) };
    case 'oadrCanceledOpt': {
      const m: OadrCanceledOpt = { type: el.name, eiResponse: decodeEiResponse(el, p) };
      setOpt(m, 'optID', optText(el, NS.ei, 'optID'));
      return m;
    }
    default:
      return undefined;
  }
}
