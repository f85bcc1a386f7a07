/**
 * EiRegisterParty service payloads (OpenADR 2.0b Profile Specification §8.4 Registration):
 * oadrQueryRegistration, oadrCreatePartyRegistration, oadrCreatedPartyRegistration,
 * oadrCancelPartyRegistration, oadrCanceledPartyRegistration, oadrRequestReregistration.
 */
import type { Millis } from '../../core/units.js';
import { type EiResponse, decodeDurationProp, decodeEiResponse, encodeDurationProp, encodeEiResponse, enumValue, setOpt } from './common.js';
import { NS } from './namespaces.js';
import { parseBool } from './units.js';
import { type XmlElement, childOf, childrenOf, elem, leaf, optLeaf, optText, reqText, required } from './xml.js';

export type ProfileName = '2.0a' | '2.0b';
export type TransportName = 'simpleHttp' | 'xmpp';
export type ServiceName = 'EiEvent' | 'EiOpt' | 'EiReport' | 'EiRegisterParty' | 'OadrPoll';
export const SERVICE_NAMES: readonly ServiceName[] = ['EiEvent', 'EiOpt', 'EiReport', 'EiRegisterParty', 'OadrPoll'];

export interface OadrQueryRegistration {
  type: 'oadrQueryRegistration';
  requestID: string;
}

export interface OadrCreatePartyRegistration {
  type: 'oadrCreatePartyRegistration';
  requestID: string;
  /** Present when re-registering (§8.4: a VEN re-registers with its registrationID). */
  registrationID?: string;
  venID?: string;
  profileName: ProfileName;
  transportName: TransportName;
  /** Push endpoint base URL; absent for the pull model. */
  transportAddress?: string;
  reportOnly: boolean;
  xmlSignature: boolean;
  venName?: string;
  httpPullModel?: boolean;
}

export interface OadrProfile {
  profileName: ProfileName;
  transports: TransportName[];
}

export interface OadrService {
  serviceName: ServiceName;
  info: { key: string; value: string }[];
}

export interface OadrCreatedPartyRegistration {
  type: 'oadrCreatedPartyRegistration';
  eiResponse: EiResponse;
  registrationID?: string;
  venID?: string;
  vtnID: string;
  profiles: OadrProfile[];
  /** How often the VEN must poll (oadrRequestedOadrPollFreq). */
  requestedPollFreq?: Millis;
  serviceSpecificInfo?: OadrService[];
}

export interface OadrCancelPartyRegistration {
  type: 'oadrCancelPartyRegistration';
  requestID: string;
  registrationID: string;
  venID?: string;
}

export interface OadrCanceledPartyRegistration {
  type: 'oadrCanceledPartyRegistration';
  eiResponse: EiResponse;
  registrationID?: string;
  venID?: string;
}

export interface OadrRequestReregistration {
  type: 'oadrRequestReregistration';
  venID: string;
}

export type RegisterPartyMessage =
  | OadrQueryRegistration
  | OadrCreatePartyRegistration
  | OadrCreatedPartyRegistration
  | OadrCancelPartyRegistration
  | OadrCanceledPartyRegistration
  | OadrRequestReregistration;

const open = (name: string): string => `<oadr:${name} ei:schemaVersion="2.0b">`;
const close = (name: string): string => `</oadr:${name}>`;
const wrap = (name: string, inner: string): string => open(name) + inner + close(name);

export function encodeRegisterParty(m: RegisterPartyMessage): string {
  switch (m.type) {
    case 'oadrQueryRegistration':
      return wrap(m.type, leaf('pyld:requestID', m.requestID));
    case 'oadrCreatePartyRegistration':
      return wrap(
        m.type,
        leaf('pyld:requestID', m.requestID) +
          optLeaf('ei:registrationID', m.registrationID) +
          optLeaf('ei:venID', m.venID) +
          leaf('oadr:oadrProfileName', m.profileName) +
          leaf('oadr:oadrTransportName', m.transportName) +
          optLeaf('oadr:oadrTransportAddress', m.transportAddress) +
          leaf('oadr:oadrReportOnly', m.reportOnly) +
          leaf('oadr:oadrXmlSignature', m.xmlSignature) +
          optLeaf('oadr:oadrVenName', m.venName) +
          optLeaf('oadr:oadrHttpPullModel', m.httpPullModel),
      );
    case 'oadrCreatedPartyRegistration': {
      const profiles = m.profiles
        .map((p) =>
          elem('oadr:oadrProfile', leaf('oadr:oadrProfileName', p.profileName) +
            elem('oadr:oadrTransports', p.transports.map((t) => elem('oadr:oadrTransport', leaf('oadr:oadrTransportName', t))).join(''))),
        )
        .join('');
      let inner =
        encodeEiResponse(m.eiResponse) +
        optLeaf('ei:registrationID', m.registrationID) +
        optLeaf('ei:venID', m.venID) +
        leaf('ei:vtnID', m.vtnID) +
        elem('oadr:oadrProfiles', profiles);
      if (m.requestedPollFreq !== undefined) inner += encodeDurationProp('oadr:oadrRequestedOadrPollFreq', m.requestedPollFreq);
      if (m.serviceSpecificInfo) {
        inner += elem('oadr:oadrServiceSpecificInfo', m.serviceSpecificInfo
          .map((s) => elem('oadr:oadrService', leaf('oadr:oadrServiceName', s.serviceName) +
            s.info.map((i) => elem('oadr:oadrInfo', leaf('oadr:oadrKey', i.key) + leaf('oadr:oadrValue', i.value))).join('')))
          .join(''));
      }
      return wrap(m.type, inner);
    }
    case 'oadrCancelPartyRegistration':
      return wrap(m.type, leaf('pyld:requestID', m.requestID) + leaf('ei:registrationID', m.registrationID) + optLeaf('ei:venID', m.venID));
    case 'oadrCanceledPartyRegistration':
      return wrap(m.type, encodeEiResponse(m.eiResponse) + optLeaf('ei:registrationID', m.registrationID) + optLeaf('ei:venID', m.venID));
    case 'oadrRequestReregistration':
      return wrap(m.type, leaf('ei:venID', m.venID));
  }
}

const PROFILES = ['2.0a', '2.0b'] as const;
const TRANSPORTS = ['simpleHttp', 'xmpp'] as const;

export function decodeRegisterParty(el: XmlElement): RegisterPartyMessage | undefined {
  const p = `oadr:${el.name}`;
  switch (el.name) {
    case 'oadrQueryRegistration':
      return { type: el.name, requestID: reqText(el, NS.pyld, 'requestID', p) };
    case 'oadrCreatePartyRegistration': {
      const m: OadrCreatePartyRegistration = {
        type: el.name,
        requestID: reqText(el, NS.pyld, 'requestID', p),
        profileName: enumValue(reqText(el, NS.oadr, 'oadrProfileName', p), PROFILES, `${p}/oadrProfileName`),
        transportName: enumValue(reqText(el, NS.oadr, 'oadrTransportName', p), TRANSPORTS, `${p}/oadrTransportName`),
        reportOnly: parseBool(reqText(el, NS.oadr, 'oadrReportOnly', p), `${p}/oadrReportOnly`),
        xmlSignature: parseBool(reqText(el, NS.oadr, 'oadrXmlSignature', p), `${p}/oadrXmlSignature`),
      };
      setOpt(m, 'registrationID', optText(el, NS.ei, 'registrationID'));
      setOpt(m, 'venID', optText(el, NS.ei, 'venID'));
      setOpt(m, 'transportAddress', optText(el, NS.oadr, 'oadrTransportAddress'));
      setOpt(m, 'venName', optText(el, NS.oadr, 'oadrVenName'));
      const pull = optText(el, NS.oadr, 'oadrHttpPullModel');
      if (pull !== undefined) m.httpPullModel = parseBool(pull, `${p}/oadrHttpPullModel`);
      return m;
    }
    case 'oadrCreatedPartyRegistration': {
      const profilesEl = required(el, NS.oadr, 'oadrProfiles', p);
      const m: OadrCreatedPartyRegistration = {
        type: el.name,
        eiResponse: decodeEiResponse(el, p),
        vtnID: reqText(el, NS.ei, 'vtnID', p),
        profiles: childrenOf(profilesEl, NS.oadr, 'oadrProfile').map((pr) => ({
          profileName: enumValue(reqText(pr, NS.oadr, 'oadrProfileName', `${p}/oadrProfiles`), PROFILES, 'oadrProfileName'),
          transports: childrenOf(required(pr, NS.oadr, 'oadrTransports', `${p}/oadrProfile`), NS.oadr, 'oadrTransport').map((t) =>
            enumValue(reqText(t, NS.oadr, 'oadrTransportName', `${p}/oadrTransport`), TRANSPORTS, 'oadrTransportName'),
          ),
        })),
      };
      setOpt(m, 'registrationID', optText(el, NS.ei, 'registrationID'));
      setOpt(m, 'venID', optText(el, NS.ei, 'venID'));
      const freq = childOf(el, NS.oadr, 'oadrRequestedOadrPollFreq');
      if (freq) m.requestedPollFreq = decodeDurationProp(freq, `${p}/oadrRequestedOadrPollFreq`);
      const ssi = childOf(el, NS.oadr, 'oadrServiceSpecificInfo');
      if (ssi) {
        m.serviceSpecificInfo = childrenOf(ssi, NS.oadr, 'oadrService').map((s) => ({
          serviceName: enumValue(reqText(s, NS.oadr, 'oadrServiceName', `${p}/oadrService`), SERVICE_NAMES, 'oadrServiceName'),
          info: childrenOf(s, NS.oadr, 'oadrInfo').map((i) => ({
            key: reqText(i, NS.oadr, 'oadrKey', 'oadrInfo'),
            value: reqText(i, NS.oadr, 'oadrValue', 'oadrInfo'),
          })),
        }));
      }
      return m;
    }
    case 'oadrCancelPartyRegistration': {
      const m: OadrCancelPartyRegistration = {
        type: el.name,
        requestID: reqText(el, NS.pyld, 'requestID', p),
        registrationID: reqText(el, NS.ei, 'registrationID', p),
      };
      setOpt(m, 'venID', optText(el, NS.ei, 'venID'));
      return m;
    }
    case 'oadrCanceledPartyRegistration': {
      const m: OadrCanceledPartyRegistration = { type: el.name, eiResponse: decodeEiResponse(el, p) };
      setOpt(m, 'registrationID', optText(el, NS.ei, 'registrationID'));
      setOpt(m, 'venID', optText(el, NS.ei, 'venID'));
      return m;
    }
    case 'oadrRequestReregistration':
      return { type: el.name, venID: reqText(el, NS.ei, 'venID', p) };
    default:
      return undefined;
  }
}
