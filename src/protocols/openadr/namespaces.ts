/**
 * XML namespaces of the OpenADR 2.0b schema (oadr_20b.xsd and its imports) with the prefixes
 * the schema and the specification's examples use. We always emit these prefixes; on input we
 * resolve prefixes to URIs and never trust a prefix by its spelling.
 */
export const NS = {
  oadr: 'http://openadr.org/oadr-2.0b/2012/07',
  ei: 'http://docs.oasis-open.org/ns/energyinterop/201110',
  pyld: 'http://docs.oasis-open.org/ns/energyinterop/201110/payloads',
  emix: 'http://docs.oasis-open.org/ns/emix/2011/06',
  power: 'http://docs.oasis-open.org/ns/emix/2011/06/power',
  scale: 'http://docs.oasis-open.org/ns/emix/2011/06/siscale',
  strm: 'urn:ietf:params:xml:ns:icalendar-2.0:stream',
  xcal: 'urn:ietf:params:xml:ns:icalendar-2.0',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  dsp: 'http://openadr.org/oadr-2.0b/2012/07/xmldsig-properties',
  dsig11: 'http://www.w3.org/2009/xmldsig11#',
  atom: 'http://www.w3.org/2005/Atom',
  gml: 'http://www.opengis.net/gml/3.2',
  clm5ISO42173A: 'urn:un:unece:uncefact:codelist:standard:5:ISO42173A:2010-04-07',
  xml: 'http://www.w3.org/XML/1998/namespace',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

export type NsPrefix = keyof typeof NS;

/** The xmlns declarations our serializer puts on oadrPayload (every prefix the body may use). */
export const PAYLOAD_NS_DECLS = (['oadr', 'ei', 'pyld', 'emix', 'power', 'scale', 'strm', 'xcal', 'xsi'] as const)
  .map((p) => `xmlns:${p}="${NS[p]}"`)
  .join(' ');
