/**
 * oadrResponse (OpenADR 2.0b Profile Specification §8.x): the generic acknowledgement, used for
 * oadrCreatedEvent / oadrCreatedReport acknowledgements, empty polls and error replies.
 */
import { type EiResponse, decodeEiResponse, encodeEiResponse, setOpt } from './common.js';
import { NS } from './namespaces.js';
import { type XmlElement, optLeaf, optText } from './xml.js';

export interface OadrResponse {
  type: 'oadrResponse';
  eiResponse: EiResponse;
  venID?: string;
}

export const encodeResponse = (m: OadrResponse): string =>
  `<oadr:oadrResponse ei:schemaVersion="2.0b">${encodeEiResponse(m.eiResponse)}${optLeaf('ei:venID', m.venID)}</oadr:oadrResponse>`;

export function decodeResponse(el: XmlElement): OadrResponse | undefined {
  if (el.name !== 'oadrResponse') return undefined;
  const m: OadrResponse = { type: 'oadrResponse', eiResponse: decodeEiResponse(el, 'oadr:oadrResponse') };
  setOpt(m, 'venID', optText(el, NS.ei, 'venID'));
  return m;
}

/** An oadrResponse carrying `code` for request `requestID` (use '' when the request had none). */
export function oadrResponse(code: number, requestID: string, venID?: string, description?: string): OadrResponse {
  const r: OadrResponse = { type: 'oadrResponse', eiResponse: { responseCode: code, requestID } };
  if (description !== undefined) r.eiResponse.responseDescription = description;
  if (venID !== undefined) r.venID = venID;
  return r;
}
