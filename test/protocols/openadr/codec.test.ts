import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePayload, encodePayload, MESSAGE_TYPES, SERVICE_OF } from '../../../src/protocols/openadr/payload.js';
import { OadrError } from '../../../src/protocols/openadr/errors.js';
import { formatDuration, parseDuration, parseDateTime, formatDateTime } from '../../../src/protocols/openadr/durations.js';
import { toWatts, toWattHours, powerRealItem, energyRealItem, fromWatts } from '../../../src/protocols/openadr/units.js';
import { watts } from '../../../src/core/units.js';
import { samples, eventOptIn } from './fixtures.js';

const code = (fn: () => unknown): number => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OadrError, `expected OadrError, got ${String(err)}`);
    return err.responseCode;
  }
  assert.fail('expected an error');
};

test('every profile B payload type has a sample and round-trips encode → decode unchanged', () => {
  assert.equal(MESSAGE_TYPES.length, 23);
  for (const type of MESSAGE_TYPES) {
    const m = samples[type];
    assert.equal(m.type, type);
    const xml = encodePayload(m);
    const back = decodePayload(xml);
    assert.deepEqual(back.message, m, `round trip of ${type}`);
    assert.equal(back.hasSignature, false);
    // and a second trip produces the identical document
    assert.equal(encodePayload(back.message), xml);
  }
  assert.deepEqual(decodePayload(encodePayload(eventOptIn)).message, eventOptIn);
});

test('every payload maps to its simple-HTTP service', () => {
  assert.equal(SERVICE_OF.oadrPoll, 'OadrPoll');
  assert.equal(SERVICE_OF.oadrCreatedEvent, 'EiEvent');
  assert.equal(SERVICE_OF.oadrUpdateReport, 'EiReport');
  assert.equal(SERVICE_OF.oadrCreateOpt, 'EiOpt');
  assert.equal(SERVICE_OF.oadrCreatePartyRegistration, 'EiRegisterParty');
});

test('serialized payload uses the schema namespaces and prefixes', () => {
  const xml = encodePayload(samples.oadrDistributeEvent);
  for (const decl of [
    'xmlns:oadr="http://openadr.org/oadr-2.0b/2012/07"',
    'xmlns:ei="http://docs.oasis-open.org/ns/energyinterop/201110"',
    'xmlns:pyld="http://docs.oasis-open.org/ns/energyinterop/201110/payloads"',
    'xmlns:emix="http://docs.oasis-open.org/ns/emix/2011/06"',
    'xmlns:power="http://docs.oasis-open.org/ns/emix/2011/06/power"',
    'xmlns:scale="http://docs.oasis-open.org/ns/emix/2011/06/siscale"',
    'xmlns:strm="urn:ietf:params:xml:ns:icalendar-2.0:stream"',
    'xmlns:xcal="urn:ietf:params:xml:ns:icalendar-2.0"',
  ]) assert.ok(xml.includes(decl), decl);
  assert.match(xml, /<oadr:oadrSignedObject oadr:Id="oadrSignedObject"><oadr:oadrDistributeEvent ei:schemaVersion="2.0b">/);
  assert.match(xml, /<xcal:duration><xcal:duration>PT1H<\/xcal:duration><\/xcal:duration>/);
  assert.match(xml, /<ei:signalPayload><ei:payloadFloat><ei:value>120<\/ei:value><\/ei:payloadFloat><\/ei:signalPayload>/);
  assert.match(xml, /<scale:siScaleCode>k<\/scale:siScaleCode>/);
  assert.ok(xml.includes('gateway') === false); // no VEN name in an event
  assert.ok(encodePayload(samples.oadrCreatePartyRegistration).includes('gateway &amp; co &lt;1&gt;'));
});

// A distribute-event written by hand in the style of the specification's example, but with other
// prefixes and a default namespace, so decoding must resolve URIs, not trust prefix spelling.
const handWrittenEvent = `<?xml version="1.0" encoding="UTF-8"?>
<p:oadrPayload xmlns:p="http://openadr.org/oadr-2.0b/2012/07" xmlns:e="http://docs.oasis-open.org/ns/energyinterop/201110"
  xmlns:pl="http://docs.oasis-open.org/ns/energyinterop/201110/payloads" xmlns:m="http://docs.oasis-open.org/ns/emix/2011/06"
  xmlns:cal="urn:ietf:params:xml:ns:icalendar-2.0" xmlns:st="urn:ietf:params:xml:ns:icalendar-2.0:stream"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <!-- a comment is fine -->
  <p:oadrSignedObject p:Id="oadrSignedObject">
    <p:oadrDistributeEvent e:schemaVersion="2.0b">
      <pl:requestID>OadrDisReq092520_152645_178</pl:requestID>
      <e:vtnID>TH_VTN</e:vtnID>
      <p:oadrEvent>
        <e:eiEvent>
          <e:eventDescriptor>
            <e:eventID>Event092520_152645_178_0</e:eventID>
            <e:modificationNumber>0</e:modificationNumber>
            <e:eiMarketContext><m:marketContext>http://MarketContext1</m:marketContext></e:eiMarketContext>
            <e:createdDateTime>2020-09-25T15:26:45.178Z</e:createdDateTime>
            <e:eventStatus>near</e:eventStatus>
          </e:eventDescriptor>
          <e:eiActivePeriod>
            <cal:properties>
              <cal:dtstart><cal:date-time>2020-09-25T15:27:45.178Z</cal:date-time></cal:dtstart>
              <cal:duration><cal:duration>PT5M</cal:duration></cal:duration>
              <cal:tolerance><cal:tolerate><cal:startafter>PT1M</cal:startafter></cal:tolerate></cal:tolerance>
              <e:x-eiNotification><cal:duration>PT1M</cal:duration></e:x-eiNotification>
            </cal:properties>
            <cal:components xsi:nil="true"/>
          </e:eiActivePeriod>
          <e:eiEventSignals>
            <e:eiEventSignal>
              <st:intervals>
                <e:interval>
                  <cal:duration><cal:duration>PT1M</cal:duration></cal:duration>
                  <cal:uid><cal:text>0</cal:text></cal:uid>
                  <e:signalPayload><e:payloadFloat><e:value>1.0</e:value></e:payloadFloat></e:signalPayload>
                </e:interval>
                <e:interval xmlns:e2="http://docs.oasis-open.org/ns/energyinterop/201110">
                  <cal:duration><cal:duration>PT4M</cal:duration></cal:duration>
                  <cal:uid><cal:text>1</cal:text></cal:uid>
                  <e2:signalPayload><e2:payloadFloat><e2:value>2.0</e2:value></e2:payloadFloat></e2:signalPayload>
                </e:interval>
              </st:intervals>
              <e:signalName>simple</e:signalName>
              <e:signalType>level</e:signalType>
              <e:signalID>SIG_01</e:signalID>
              <e:currentValue><e:payloadFloat><e:value>0.0</e:value></e:payloadFloat></e:currentValue>
            </e:eiEventSignal>
          </e:eiEventSignals>
          <e:eiTarget><e:venID>ven-1</e:venID></e:eiTarget>
        </e:eiEvent>
        <p:oadrResponseRequired>always</p:oadrResponseRequired>
      </p:oadrEvent>
    </p:oadrDistributeEvent>
  </p:oadrSignedObject>
</p:oadrPayload>`;

test('decodes a hand-written spec-style oadrDistributeEvent with foreign prefixes', () => {
  const { message } = decodePayload(handWrittenEvent);
  assert.equal(message.type, 'oadrDistributeEvent');
  if (message.type !== 'oadrDistributeEvent') return;
  assert.equal(message.vtnID, 'TH_VTN');
  const ev = message.events[0];
  assert.ok(ev);
  assert.equal(ev.descriptor.eventStatus, 'near');
  assert.equal(ev.activePeriod.dtstart, Date.parse('2020-09-25T15:27:45.178Z'));
  assert.equal(ev.activePeriod.duration, 300_000);
  assert.equal(ev.activePeriod.startAfter, 60_000);
  assert.equal(ev.activePeriod.notification, 60_000);
  assert.deepEqual(ev.signals[0]?.intervals.map((i) => [i.uid, i.duration, i.value]), [['0', 60_000, 1], ['1', 240_000, 2]]);
  assert.equal(ev.signals[0]?.currentValue, 0);
  assert.deepEqual(ev.target, { venID: ['ven-1'] });
});

test('decodes a default-namespace oadrPoll and a METADATA registration written by hand', () => {
  const poll = `<oadrPayload xmlns="http://openadr.org/oadr-2.0b/2012/07"><oadrSignedObject><oadrPoll xmlns:ei="http://docs.oasis-open.org/ns/energyinterop/201110" ei:schemaVersion="2.0b"><ei:venID>ven&#45;1</ei:venID></oadrPoll></oadrSignedObject></oadrPayload>`;
  assert.deepEqual(decodePayload(poll).message, { type: 'oadrPoll', venID: 'ven-1' });
  const reg = `<oadr:oadrPayload xmlns:oadr="http://openadr.org/oadr-2.0b/2012/07" xmlns:ei="http://docs.oasis-open.org/ns/energyinterop/201110" xmlns:pyld="http://docs.oasis-open.org/ns/energyinterop/201110/payloads" xmlns:power="http://docs.oasis-open.org/ns/emix/2011/06/power" xmlns:scale="http://docs.oasis-open.org/ns/emix/2011/06/siscale" xmlns:xcal="urn:ietf:params:xml:ns:icalendar-2.0">
<oadr:oadrSignedObject><oadr:oadrRegisterReport ei:schemaVersion="2.0b"><pyld:requestID>RegReq</pyld:requestID>
<oadr:oadrReport><xcal:duration><xcal:duration>PT2H</xcal:duration></xcal:duration>
<oadr:oadrReportDescription><ei:rID>rid_energy</ei:rID><ei:reportDataSource><ei:resourceID>res1</ei:resourceID></ei:reportDataSource>
<ei:reportType>usage</ei:reportType><power:energyReal><power:itemDescription>RealEnergy</power:itemDescription><power:itemUnits>Wh</power:itemUnits><scale:siScaleCode>k</scale:siScaleCode></power:energyReal>
<ei:readingType>Direct Read</ei:readingType><oadr:oadrSamplingRate><oadr:oadrMinPeriod>PT1M</oadr:oadrMinPeriod><oadr:oadrMaxPeriod>PT1M</oadr:oadrMaxPeriod><oadr:oadrOnChange>false</oadr:oadrOnChange></oadr:oadrSamplingRate>
</oadr:oadrReportDescription><ei:reportRequestID>0</ei:reportRequestID><ei:reportSpecifierID>TELEMETRY</ei:reportSpecifierID><ei:reportName>METADATA_TELEMETRY_USAGE</ei:reportName><ei:createdDateTime>2020-09-25T15:26:45Z</ei:createdDateTime></oadr:oadrReport>
<ei:venID>ven-1</ei:venID></oadr:oadrRegisterReport></oadr:oadrSignedObject></oadr:oadrPayload>`;
  const m = decodePayload(reg).message;
  assert.equal(m.type, 'oadrRegisterReport');
  if (m.type !== 'oadrRegisterReport') return;
  const d = m.reports[0]?.descriptions?.[0];
  assert.ok(d?.itemBase);
  assert.equal(toWattHours(1.5, d.itemBase), 1500);
  assert.equal(d.samplingRate?.minPeriod, 60_000);
  assert.equal(m.venID, 'ven-1');
});

test('xCal durations and date-times', () => {
  assert.equal(parseDuration('PT15M'), 900_000);
  assert.equal(parseDuration('P1DT2H'), 93_600_000);
  assert.equal(parseDuration('P2W'), 14 * 86_400_000);
  assert.equal(parseDuration('PT0.5S'), 500);
  assert.equal(parseDuration('-PT5M'), -300_000);
  assert.equal(formatDuration(5_400_000), 'PT1H30M');
  assert.equal(formatDuration(0), 'PT0S');
  assert.equal(formatDuration(86_400_000), 'P1D');
  assert.equal(formatDuration(90_061_500), 'P1DT1H1M1.5S');
  for (const bad of ['P1Y', 'P1M', 'PT', 'P', '15M', 'PT1H2X', '']) assert.equal(code(() => parseDuration(bad)), 454, bad);
  assert.equal(parseDateTime('2026-01-15T09:00:00Z'), Date.UTC(2026, 0, 15, 9));
  assert.equal(parseDateTime('2026-01-15T09:00:00'), Date.UTC(2026, 0, 15, 9));
  assert.equal(parseDateTime('2026-01-15T18:00:00+09:00'), Date.UTC(2026, 0, 15, 9));
  assert.equal(formatDateTime(Date.UTC(2026, 0, 15, 9)), '2026-01-15T09:00:00Z');
  for (const bad of ['2026-13-01T00:00:00Z', 'yesterday', '2026-01-15 09:00:00Z']) assert.equal(code(() => parseDateTime(bad)), 454, bad);
});

test('units and SI multipliers convert to W / Wh at the edge', () => {
  assert.equal(toWatts(1.5, powerRealItem('k')), 1500);
  assert.equal(toWatts(2, powerRealItem('M')), 2_000_000);
  assert.equal(toWatts(750, powerRealItem('none')), 750);
  assert.equal(toWatts(500, powerRealItem('m')), 0.5);
  assert.equal(toWattHours(3, energyRealItem('k')), 3000);
  assert.equal(fromWatts(watts(2500), powerRealItem('k')), 2.5);
  assert.equal(code(() => toWatts(1, energyRealItem('k'))), 454);
});

const wrap = (inner: string): string =>
  `<oadr:oadrPayload xmlns:oadr="http://openadr.org/oadr-2.0b/2012/07" xmlns:ei="http://docs.oasis-open.org/ns/energyinterop/201110" xmlns:pyld="http://docs.oasis-open.org/ns/energyinterop/201110/payloads"><oadr:oadrSignedObject>${inner}</oadr:oadrSignedObject></oadr:oadrPayload>`;

test('bad input maps to the OpenADR response codes', () => {
  // malformed XML → 454
  assert.equal(code(() => decodePayload('<oadr:oadrPayload')), 454);
  assert.equal(code(() => decodePayload(wrap('<oadr:oadrPoll><ei:venID>v</ei:venID></oadr:oadrPol>'))), 454);
  assert.equal(code(() => decodePayload('')), 454);
  assert.equal(code(() => decodePayload('<a/><b/>')), 454);
  assert.equal(code(() => decodePayload('junk<a/>')), 454);
  assert.equal(code(() => decodePayload(wrap('<oadr:oadrPoll><ei:venID>a & b</ei:venID></oadr:oadrPoll>'))), 454);
  assert.equal(code(() => decodePayload(wrap('<oadr:oadrPoll><ei:venID>&nbsp;</ei:venID></oadr:oadrPoll>'))), 454);
  assert.equal(code(() => decodePayload(new Uint8Array([0x3c, 0x61, 0xff, 0xfe, 0x2f, 0x3e]))), 454);
  assert.equal(code(() => decodePayload(`<?xml version="1.0" encoding="UTF-16"?>${wrap('')}`)), 454);
  // right prefix, wrong namespace URI → 459
  assert.equal(code(() => decodePayload('<oadr:oadrPayload xmlns:oadr="http://openadr.org/oadr-2.0a/2012/07"><oadr:oadrSignedObject/></oadr:oadrPayload>')), 459);
  assert.equal(code(() => decodePayload(wrap('<oadr:oadrPoll><ei:venID xmlns:ei="urn:evil">v</ei:venID></oadr:oadrPoll>'))), 459);
  // undeclared prefix → 459
  assert.equal(code(() => decodePayload(wrap('<oadr:oadrPoll><x:venID>v</x:venID></oadr:oadrPoll>'))), 459);
  // missing mandatory element → 459
  assert.equal(code(() => decodePayload(wrap('<oadr:oadrPoll></oadr:oadrPoll>'))), 459);
  assert.equal(code(() => decodePayload(wrap('<oadr:oadrCreatePartyRegistration><pyld:requestID>r</pyld:requestID></oadr:oadrCreatePartyRegistration>'))), 459);
  // unknown payload → 453
  assert.equal(code(() => decodePayload(wrap('<oadr:oadrTeleport><ei:venID>v</ei:venID></oadr:oadrTeleport>'))), 453);
  // bad values → 454
  assert.equal(code(() => decodePayload(wrap('<oadr:oadrRequestEvent><pyld:eiRequestEvent><pyld:requestID>r</pyld:requestID><ei:venID>v</ei:venID><pyld:replyLimit>-1</pyld:replyLimit></pyld:eiRequestEvent></oadr:oadrRequestEvent>'))), 454);
  const badStatus = encodePayload(samples.oadrDistributeEvent).replace('<ei:eventStatus>far</ei:eventStatus>', '<ei:eventStatus>soon</ei:eventStatus>');
  assert.equal(code(() => decodePayload(badStatus)), 454);
  const badSignal = encodePayload(samples.oadrDistributeEvent).replace('<ei:signalType>level</ei:signalType>', '<ei:signalType>loud</ei:signalType>');
  assert.equal(code(() => decodePayload(badSignal)), 454);
});

/** Each hostile document must be refused quickly: bounded time, never a hang or expansion. */
function refusedFast(xml: string | Uint8Array, expected = 454): void {
  const t0 = process.hrtime.bigint();
  assert.equal(code(() => decodePayload(xml)), expected);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.ok(ms < 1000, `took ${ms} ms`);
}

test('hostile input: billion laughs, XXE, external DTD, parameter entities are refused before parsing', () => {
  const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
${wrap('<oadr:oadrPoll><ei:venID>&lol9;</ei:venID></oadr:oadrPoll>')}`;
  refusedFast(laughs);
  refusedFast(`<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${wrap('<oadr:oadrPoll><ei:venID>&xxe;</ei:venID></oadr:oadrPoll>')}`);
  refusedFast(`<?xml version="1.0"?><!DOCTYPE oadrPayload SYSTEM "http://127.0.0.1:1/evil.dtd">${wrap('<oadr:oadrPoll><ei:venID>v</ei:venID></oadr:oadrPoll>')}`);
  refusedFast(`<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/p">%p;]>${wrap('')}`);
  // an entity reference with no declaration is refused too (no expansion of anything but the five predefined)
  refusedFast(wrap('<oadr:oadrPoll><ei:venID>&xxe;</ei:venID></oadr:oadrPoll>'));
  // a DOCTYPE smuggled in lower case or inside the root is refused by the markup rule
  refusedFast(wrap('<!doctype x><oadr:oadrPoll><ei:venID>v</ei:venID></oadr:oadrPoll>'));
  refusedFast(wrap('<![INCLUDE[<x/>]]>'));
});

test('hostile input: oversize and deep nesting are refused in bounded time', () => {
  const big = wrap(`<oadr:oadrPoll><ei:venID>${'A'.repeat(1024 * 1024)}</ei:venID></oadr:oadrPoll>`);
  refusedFast(big);
  refusedFast(Buffer.from(big));
  const deep = `${'<a>'.repeat(100_000)}${'</a>'.repeat(100_000)}`;
  refusedFast(deep);
  const wide = wrap(`<oadr:oadrPoll>${'<ei:venID/>'.repeat(60_000)}</oadr:oadrPoll>`);
  refusedFast(wide);
  // quadratic-blowup style: one huge attribute value is bounded by size, not expanded
  refusedFast(`<a b="${'x'.repeat(1_100_000)}"/>`);
});
