/**
 * OadrPoll service payload (OpenADR 2.0b Profile Specification §8.6 / §9.x HTTP pull model):
 * oadrPoll. The VTN answers with whatever is pending for the VEN (any payload it would have pushed)
 * or an oadrResponse with 200 when nothing is.
 */
import { NS } from './namespaces.js';
import { type XmlElement, leaf, reqText } from './xml.js';

export interface OadrPoll {
  type: 'oadrPoll';
  venID: string;
}

export const encodePoll = (m: OadrPoll): string =>
  `<oadr:oadrPoll ei:schemaVersion="2.0b">${leaf('ei:venID', m.venID)}</oadr:oadrPoll>`;

export function decodePoll(el: XmlElement): OadrPoll | undefined {
  if (el.name !== 'oadrPoll') return undefined;
  return { type: 'oadrPoll', venID: reqText(el, NS.ei, 'venID', 'oadr:oadrPoll') };
}
