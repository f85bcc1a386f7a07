/**
 * The oadrPayload envelope (oadr_20b.xsd: oadrPayload = ds:Signature? oadrSignedObject) and the
 * dispatch from element name to message family. Every OpenADR 2.0b profile B message goes in and
 * out through here.
 */
import { OadrError, OadrResponseCode, compliance } from './errors.js';
import { type EventMessage, decodeEvent, encodeEvent } from './event.js';
import { NS, PAYLOAD_NS_DECLS } from './namespaces.js';
import { type OptMessage, decodeOpt, encodeOpt } from './opt.js';
import { type OadrPoll, decodePoll, encodePoll } from './poll.js';
import { type RegisterPartyMessage, type ServiceName, decodeRegisterParty, encodeRegisterParty } from './register-party.js';
import { type ReportMessage, decodeReportMessage, encodeReportMessage } from './report.js';
import { type OadrResponse, decodeResponse, encodeResponse } from './response.js';
import { DEFAULT_XML_LIMITS, type XmlElement, type XmlLimits, attrOf, parseXml } from './xml.js';

export type OadrMessage = RegisterPartyMessage | EventMessage | ReportMessage | OptMessage | OadrPoll | OadrResponse;
export type OadrMessageType = OadrMessage['type'];

/** Which simple-HTTP service endpoint carries each payload (§9.1: /OpenADR2/Simple/2.0b/<service>). */
export const SERVICE_OF: Record<OadrMessageType, ServiceName> = {
  oadrQueryRegistration: 'EiRegisterParty',
  oadrCreatePartyRegistration: 'EiRegisterParty',
  oadrCreatedPartyRegistration: 'EiRegisterParty',
  oadrCancelPartyRegistration: 'EiRegisterParty',
  oadrCanceledPartyRegistration: 'EiRegisterParty',
  oadrRequestReregistration: 'EiRegisterParty',
  oadrRequestEvent: 'EiEvent',
  oadrDistributeEvent: 'EiEvent',
  oadrCreatedEvent: 'EiEvent',
  oadrRegisterReport: 'EiReport',
  oadrRegisteredReport: 'EiReport',
  oadrCreateReport: 'EiReport',
  oadrCreatedReport: 'EiReport',
  oadrUpdateReport: 'EiReport',
  oadrUpdatedReport: 'EiReport',
  oadrCancelReport: 'EiReport',
  oadrCanceledReport: 'EiReport',
  oadrCreateOpt: 'EiOpt',
  oadrCreatedOpt: 'EiOpt',
  oadrCancelOpt: 'EiOpt',
  oadrCanceledOpt: 'EiOpt',
  oadrPoll: 'OadrPoll',
  oadrResponse: 'EiRegisterParty',
};

export const MESSAGE_TYPES = Object.keys(SERVICE_OF) as OadrMessageType[];

/** The URL path of a service, e.g. `/OpenADR2/Simple/2.0b/EiEvent`. */
export const servicePath = (s: ServiceName): string => `/OpenADR2/Simple/2.0b/${s}`;

/** The Id our serializer gives oadrSignedObject; the signature's Reference URI points at it. */
export const SIGNED_OBJECT_ID = 'oadrSignedObject';

/** Serializes the message element alone (no envelope). */
export function encodeMessage(m: OadrMessage): string {
  switch (m.type) {
    case 'oadrQueryRegistration': case 'oadrCreatePartyRegistration': case 'oadrCreatedPartyRegistration':
    case 'oadrCancelPartyRegistration': case 'oadrCanceledPartyRegistration': case 'oadrRequestReregistration':
      return encodeRegisterParty(m);
    case 'oadrRequestEvent': case 'oadrDistributeEvent': case 'oadrCreatedEvent':
      return encodeEvent(m);
    case 'oadrRegisterReport': case 'oadrRegisteredReport': case 'oadrCreateReport': case 'oadrCreatedReport':
    case 'oadrUpdateReport': case 'oadrUpdatedReport': case 'oadrCancelReport': case 'oadrCanceledReport':
      return encodeReportMessage(m);
    case 'oadrCreateOpt': case 'oadrCreatedOpt': case 'oadrCancelOpt': case 'oadrCanceledOpt':
      return encodeOpt(m);
    case 'oadrPoll':
      return encodePoll(m);
    case 'oadrResponse':
      return encodeResponse(m);
  }
}

/** The oadrSignedObject element (with its Id) wrapping the message. */
export const encodeSignedObject = (m: OadrMessage): string =>
  `<oadr:oadrSignedObject oadr:Id="${SIGNED_OBJECT_ID}">${encodeMessage(m)}</oadr:oadrSignedObject>`;

/**
 * Serializes a complete oadrPayload document. Unsigned; `signature.ts` signs this output.
 * @example encodePayload({ type: 'oadrPoll', venID: 'ven-1' })
 */
export function encodePayload(m: OadrMessage): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<oadr:oadrPayload ${PAYLOAD_NS_DECLS}>${encodeSignedObject(m)}</oadr:oadrPayload>`;
}

export interface DecodedPayload {
  message: OadrMessage;
  /** The namespace-resolved document, for signature checks. */
  root: XmlElement;
  /** The oadrSignedObject element the message came from. */
  signedObject: XmlElement;
  /** True when the payload carries a ds:Signature. */
  hasSignature: boolean;
}

/** Decodes the message element inside oadrSignedObject; unknown payloads are 453. */
export function decodeMessageElement(el: XmlElement): OadrMessage {
  if (el.ns !== NS.oadr) throw compliance(`oadrSignedObject: payload element is in namespace "${el.ns.slice(0, 80)}", not ${NS.oadr}`);
  const m = decodeRegisterParty(el) ?? decodeEvent(el) ?? decodeReportMessage(el) ?? decodeOpt(el) ?? decodePoll(el) ?? decodeResponse(el);
  if (!m) throw new OadrError(OadrResponseCode.NOT_RECOGNIZED, `oadrSignedObject: payload oadr:${el.name.slice(0, 64)} is not recognized`);
  return m;
}

/**
 * Parses, checks and decodes an oadrPayload document. Errors are OadrError with the response
 * code to answer with (454 malformed / hostile, 459 schema, 453 unknown payload).
 */
export function decodePayload(body: string | Uint8Array, limits: XmlLimits = DEFAULT_XML_LIMITS, source = 'oadrPayload'): DecodedPayload {
  const root = parseXml(body, limits, source);
  if (root.name !== 'oadrPayload' || root.ns !== NS.oadr) {
    throw compliance(`${source}: root element must be oadr:oadrPayload in ${NS.oadr}, got ${root.name.slice(0, 64)} in "${root.ns.slice(0, 80)}"`);
  }
  const elems = root.children;
  const signedObjects = elems.filter((c) => c.ns === NS.oadr && c.name === 'oadrSignedObject');
  if (signedObjects.length !== 1) throw compliance(`${source}: exactly one oadr:oadrSignedObject is required, found ${signedObjects.length}`);
  const sigs = elems.filter((c) => c.ns === NS.ds && c.name === 'Signature');
  if (sigs.length > 1) throw compliance(`${source}: more than one ds:Signature`);
  if (elems.length !== signedObjects.length + sigs.length) throw compliance(`${source}: unexpected element in oadr:oadrPayload`);
  const signedObject = signedObjects[0] as XmlElement;
  if (signedObject.children.length !== 1) throw compliance(`${source}: oadr:oadrSignedObject must hold exactly one payload element`);
  const message = decodeMessageElement(signedObject.children[0] as XmlElement);
  return { message, root, signedObject, hasSignature: sigs.length === 1 };
}

/** The Id attribute of oadrSignedObject (qualified oadr:Id per the schema, unqualified tolerated). */
export const signedObjectIdOf = (so: XmlElement): string | undefined => attrOf(so, NS.oadr, 'Id') ?? attrOf(so, '', 'Id');

/** The venID a message claims, if it carries one (used for the certificate binding check). */
export function venIdOf(m: OadrMessage): string | undefined {
  return 'venID' in m ? m.venID : undefined;
}

/** The requestID to echo in an error reply, if the message has one. */
export function requestIdOf(m: OadrMessage): string | undefined {
  if ('requestID' in m) return m.requestID;
  if ('eiResponse' in m && m.eiResponse) return m.eiResponse.requestID;
  return undefined;
}


