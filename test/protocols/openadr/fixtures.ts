/**
 * Sample messages for every OpenADR 2.0b profile B payload, written by us after the shapes in the
 * OpenADR 2.0b Profile Specification's examples (event with two intervals, METADATA report
 * registration, TELEMETRY_USAGE and TELEMETRY_STATUS updates, availability opt schedule...).
 */
import type { EpochMillis, Millis } from '../../../src/core/units.js';
import type { OadrMessage, OadrMessageType } from '../../../src/protocols/openadr/payload.js';
import type { OadrEvent } from '../../../src/protocols/openadr/event.js';
import { energyRealItem, powerRealItem } from '../../../src/protocols/openadr/units.js';

const T0 = Date.UTC(2026, 0, 15, 9, 0, 0) as EpochMillis;
const min = (n: number): Millis => (n * 60_000) as Millis;

export const sampleEvent: OadrEvent = {
  descriptor: {
    eventID: 'evt-2026-0001',
    modificationNumber: 0,
    priority: 1,
    marketContext: 'http://tso.example/programs/tertiary-2',
    createdDateTime: (T0 - 3_600_000) as EpochMillis,
    eventStatus: 'far',
    testEvent: 'false',
    vtnComment: 'reduce load, 三次②',
  },
  activePeriod: { dtstart: T0, duration: min(60), startAfter: min(5), notification: min(45), rampUp: min(15), recovery: min(5) },
  signals: [
    {
      signalName: 'LOAD_DISPATCH',
      signalType: 'setpoint',
      signalID: 'sig-1',
      intervals: [
        { duration: min(30), uid: '0', value: 120 },
        { duration: min(30), uid: '1', value: 80.5 },
      ],
      itemBase: powerRealItem('k'),
      currentValue: 0,
      target: { resourceID: ['battery-1'] },
    },
    {
      signalName: 'simple',
      signalType: 'level',
      signalID: 'sig-2',
      intervals: [{ duration: min(60), uid: '0', value: 2 }],
    },
  ],
  baseline: {
    dtstart: T0,
    duration: min(60),
    intervals: [{ duration: min(60), uid: '0', value: 300 }],
    baselineID: 'bl-1',
    resourceID: ['battery-1'],
    baselineName: 'High 4 of 5',
    itemBase: powerRealItem('k'),
  },
  target: { venID: ['ven-1'], groupID: ['kanto-1'], endDeviceAsset: ['Exterior_Lighting'], partyID: ['agg-1'] },
  responseRequired: 'always',
};

const { baseline: _baseline, ...withoutBaseline } = sampleEvent;
const event2: OadrEvent = {
  ...withoutBaseline,
  descriptor: { ...sampleEvent.descriptor, eventID: 'evt-2', eventStatus: 'active', modificationNumber: 3, modificationDateTime: T0, modificationReason: 'shortened' },
  responseRequired: 'never',
};

/** One message per payload type, each exercising its optional fields. */
export const samples: Record<OadrMessageType, OadrMessage> = {
  oadrQueryRegistration: { type: 'oadrQueryRegistration', requestID: 'req-q1' },
  oadrCreatePartyRegistration: {
    type: 'oadrCreatePartyRegistration', requestID: 'req-r1', venID: 'ven-1', profileName: '2.0b', transportName: 'simpleHttp',
    transportAddress: 'https://ven1.example:8443', reportOnly: false, xmlSignature: true, venName: 'gateway & co <1>', httpPullModel: true,
  },
  oadrCreatedPartyRegistration: {
    type: 'oadrCreatedPartyRegistration', eiResponse: { responseCode: 200, responseDescription: 'OK', requestID: 'req-r1' },
    registrationID: 'reg-1', venID: 'ven-1', vtnID: 'tso-vtn',
    profiles: [{ profileName: '2.0a', transports: ['simpleHttp'] }, { profileName: '2.0b', transports: ['simpleHttp', 'xmpp'] }],
    requestedPollFreq: (10_000) as Millis,
    serviceSpecificInfo: [{ serviceName: 'EiEvent', info: [{ key: 'x-maxEvents', value: '10' }] }],
  },
  oadrCancelPartyRegistration: { type: 'oadrCancelPartyRegistration', requestID: 'req-c1', registrationID: 'reg-1', venID: 'ven-1' },
  oadrCanceledPartyRegistration: {
    type: 'oadrCanceledPartyRegistration', eiResponse: { responseCode: 200, requestID: 'req-c1' }, registrationID: 'reg-1', venID: 'ven-1',
  },
  oadrRequestReregistration: { type: 'oadrRequestReregistration', venID: 'ven-1' },
  oadrRequestEvent: { type: 'oadrRequestEvent', requestID: 'req-e1', venID: 'ven-1', replyLimit: 5 },
  oadrDistributeEvent: {
    type: 'oadrDistributeEvent', eiResponse: { responseCode: 200, requestID: 'req-e1' }, requestID: 'dist-1', vtnID: 'tso-vtn',
    events: [sampleEvent, event2],
  },
  oadrCreatedEvent: {
    type: 'oadrCreatedEvent', eiResponse: { responseCode: 200, requestID: '' }, venID: 'ven-1',
    eventResponses: [
      { responseCode: 200, responseDescription: 'OK', requestID: 'dist-1', qualifiedEventID: { eventID: 'evt-2026-0001', modificationNumber: 0 }, optType: 'optIn' },
      { responseCode: 200, requestID: 'dist-1', qualifiedEventID: { eventID: 'evt-2', modificationNumber: 3 }, optType: 'optOut' },
    ],
  },
  oadrRegisterReport: {
    type: 'oadrRegisterReport', requestID: 'req-rr1', venID: 'ven-1', reportRequestID: 'rrq-0',
    reports: [{
      duration: min(120),
      eiReportID: 'rep-meta-1',
      descriptions: [
        {
          rID: 'usage-1', reportDataSource: { resourceID: ['battery-1'] }, reportSubject: { endDeviceAsset: ['Energy_Storage'] },
          reportType: 'usage', itemBase: powerRealItem('k'), readingType: 'Direct Read', marketContext: 'http://tso.example/programs/tertiary-2',
          samplingRate: { minPeriod: min(1), maxPeriod: min(60), onChange: false },
        },
        { rID: 'energy-1', reportType: 'usage', itemBase: energyRealItem('k'), readingType: 'Net' },
        { rID: 'status-1', reportType: 'x-resourceStatus', readingType: 'x-notApplicable', samplingRate: { minPeriod: min(1), maxPeriod: min(1), onChange: true } },
      ],
      reportRequestID: '0', reportSpecifierID: 'spec-telemetry', reportName: 'METADATA_TELEMETRY_USAGE', createdDateTime: T0,
    }],
  },
  oadrRegisteredReport: {
    type: 'oadrRegisteredReport', eiResponse: { responseCode: 200, requestID: 'req-rr1' }, venID: 'ven-1',
    reportRequests: [{
      reportRequestID: 'rrq-1',
      reportSpecifier: {
        reportSpecifierID: 'spec-telemetry', granularity: min(1), reportBackDuration: min(5),
        reportInterval: { dtstart: T0, duration: min(120) },
        specifierPayloads: [{ rID: 'usage-1', itemBase: powerRealItem('k'), readingType: 'Direct Read' }, { rID: 'status-1', readingType: 'x-notApplicable' }],
      },
    }],
  },
  oadrCreateReport: {
    type: 'oadrCreateReport', requestID: 'req-cr1', venID: 'ven-1',
    reportRequests: [{
      reportRequestID: 'rrq-2',
      reportSpecifier: { reportSpecifierID: 'spec-history', granularity: min(30), reportBackDuration: (0) as Millis, specifierPayloads: [{ rID: 'energy-1', readingType: 'Net' }] },
    }],
  },
  oadrCreatedReport: { type: 'oadrCreatedReport', eiResponse: { responseCode: 200, requestID: 'req-cr1' }, pendingReports: ['rrq-1', 'rrq-2'], venID: 'ven-1' },
  oadrUpdateReport: {
    type: 'oadrUpdateReport', requestID: 'req-u1', venID: 'ven-1',
    reports: [{
      dtstart: T0, duration: min(2),
      intervals: [
        { dtstart: T0, duration: min(1), uid: '0', payloads: [{ rID: 'usage-1', confidence: 100, accuracy: 0.5, value: 2.75, dataQuality: 'Quality Good - Non Specific' }] },
        {
          dtstart: (T0 + 60_000) as EpochMillis, duration: min(1), payloads: [
            { rID: 'usage-1', value: -1.25 },
            { rID: 'status-1', value: { online: true, manualOverride: false, loadControlState: { setPoint: { min: -3, max: 3, current: 1.5, normal: 0 }, capacity: { current: 0.8 } } } },
          ],
        },
      ],
      eiReportID: 'rep-1', reportRequestID: 'rrq-1', reportSpecifierID: 'spec-telemetry', reportName: 'TELEMETRY_USAGE', createdDateTime: (T0 + 120_000) as EpochMillis,
    }],
  },
  oadrUpdatedReport: {
    type: 'oadrUpdatedReport', eiResponse: { responseCode: 200, requestID: 'req-u1' }, venID: 'ven-1',
    cancelReport: { type: 'oadrCancelReport', requestID: 'req-x1', reportRequestIDs: ['rrq-1'], reportToFollow: false, venID: 'ven-1' },
  },
  oadrCancelReport: { type: 'oadrCancelReport', requestID: 'req-x2', reportRequestIDs: ['rrq-1', 'rrq-2'], reportToFollow: true, venID: 'ven-1' },
  oadrCanceledReport: { type: 'oadrCanceledReport', eiResponse: { responseCode: 200, requestID: 'req-x2' }, pendingReports: [], venID: 'ven-1' },
  oadrCreateOpt: {
    type: 'oadrCreateOpt', optID: 'opt-1', optType: 'optOut', optReason: 'x-schedule', marketContext: 'http://tso.example/programs/tertiary-2',
    venID: 'ven-1', vavailability: [{ dtstart: T0, duration: min(120) }, { dtstart: (T0 + 86_400_000) as EpochMillis, duration: min(60) }],
    createdDateTime: T0, requestID: 'req-o1', target: { resourceID: ['battery-1'] }, deviceClass: { endDeviceAsset: ['Energy_Storage'] },
  },
  oadrCreatedOpt: { type: 'oadrCreatedOpt', eiResponse: { responseCode: 200, requestID: 'req-o1' }, optID: 'opt-1' },
  oadrCancelOpt: { type: 'oadrCancelOpt', requestID: 'req-o2', optID: 'opt-1', venID: 'ven-1' },
  oadrCanceledOpt: { type: 'oadrCanceledOpt', eiResponse: { responseCode: 200, requestID: 'req-o2' }, optID: 'opt-1' },
  oadrPoll: { type: 'oadrPoll', venID: 'ven-1' },
  oadrResponse: { type: 'oadrResponse', eiResponse: { responseCode: 200, responseDescription: 'OK', requestID: 'req-u1' }, venID: 'ven-1' },
};

/** An event opt-in for one event (qualifiedEventID), the other oadrCreateOpt form. */
export const eventOptIn: OadrMessage = {
  type: 'oadrCreateOpt', optID: 'opt-2', optType: 'optIn', optReason: 'participating', venID: 'ven-1', createdDateTime: T0,
  requestID: 'req-o3', qualifiedEventID: { eventID: 'evt-2026-0001', modificationNumber: 0 }, target: {},
};
