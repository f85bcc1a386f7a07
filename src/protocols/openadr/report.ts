/**
 * EiReport service payloads (OpenADR 2.0b Profile Specification §8.3 Report): oadrRegisterReport,
 * oadrRegisteredReport, oadrCreateReport, oadrCreatedReport, oadrUpdateReport, oadrUpdatedReport,
 * oadrCancelReport, oadrCanceledReport; with report descriptions (METADATA), report specifiers
 * and report intervals carrying float values or resource status (TELEMETRY_STATUS).
 */
import type { EpochMillis, Millis } from '../../core/units.js';
import {
  type EiResponse, type EiTarget, type XcalProperties,
  decodeDurationProp, decodeEiResponse, decodeProperties, decodeTarget, encodeDurationProp, encodeEiResponse,
  encodeProperties, encodeTarget, enumValue, optDtstart, optDuration, parseUnsigned, setOpt, encodeDtstart,
} from './common.js';
import { formatDateTime, formatDuration, parseDateTime, parseDuration } from './durations.js';
import { invalidData } from './errors.js';
import { NS } from './namespaces.js';
import { type ItemBase, decodeItemBase, encodeItemBase, parseBool, parseNumber } from './units.js';
import { type XmlElement, childOf, childrenOf, elem, leaf, optLeaf, optText, reqText, required } from './xml.js';

export const REPORT_NAMES = [
  'METADATA_HISTORY_USAGE', 'HISTORY_USAGE', 'METADATA_HISTORY_GREENBUTTON', 'HISTORY_GREENBUTTON',
  'METADATA_TELEMETRY_USAGE', 'TELEMETRY_USAGE', 'METADATA_TELEMETRY_STATUS', 'TELEMETRY_STATUS',
] as const;
export type ReportName = (typeof REPORT_NAMES)[number] | `x-${string}`;

export const REPORT_TYPES = [
  'reading', 'usage', 'demand', 'setPoint', 'deltaUsage', 'deltaSetPoint', 'deltaDemand', 'baseline', 'deviation',
  'avgUsage', 'avgDemand', 'operatingState', 'upRegulationCapacityAvailable', 'downRegulationCapacityAvailable',
  'regulationSetpoint', 'storedEnergy', 'targetEnergyStorage', 'availableEnergyStorage', 'price', 'level',
  'powerFactor', 'percentUsage', 'percentDemand', 'x-resourceStatus',
] as const;
export type ReportType = (typeof REPORT_TYPES)[number] | `x-${string}`;

export const READING_TYPES = [
  'Direct Read', 'Net', 'Allocated', 'Estimated', 'Summed', 'Derived', 'Mean', 'Peak', 'Hybrid', 'Contract',
  'Projected', 'x-RMS', 'x-notApplicable',
] as const;
export type ReadingType = (typeof READING_TYPES)[number] | `x-${string}`;

/** The report request id a VEN uses in METADATA reports it registers (§8.3.2: "0"). */
export const METADATA_REPORT_REQUEST_ID = '0';

export interface SamplingRate {
  minPeriod: Millis;
  maxPeriod: Millis;
  onChange: boolean;
}

/** oadr:oadrReportDescription: one data point a VEN can report (rID). */
export interface ReportDescription {
  rID: string;
  reportSubject?: EiTarget;
  reportDataSource?: EiTarget;
  reportType: ReportType;
  itemBase?: ItemBase;
  readingType: ReadingType;
  marketContext?: string;
  samplingRate?: SamplingRate;
}

export interface LoadControlStateValue {
  min?: number;
  max?: number;
  current: number;
  normal?: number;
}

/** oadr:oadrPayloadResourceStatus: the TELEMETRY_STATUS payload (x-resourceStatus). */
export interface ResourceStatus {
  online: boolean;
  manualOverride: boolean;
  loadControlState?: {
    capacity?: LoadControlStateValue;
    levelOffset?: LoadControlStateValue;
    percentOffset?: LoadControlStateValue;
    setPoint?: LoadControlStateValue;
  };
}

/** oadr:oadrReportPayload: one rID's value in one interval. */
export interface ReportPayload {
  rID: string;
  confidence?: number;
  accuracy?: number;
  value: number | ResourceStatus;
  dataQuality?: string;
}

export interface ReportInterval {
  dtstart?: EpochMillis;
  duration?: Millis;
  uid?: string;
  payloads: ReportPayload[];
}

/** oadr:oadrReport: METADATA (descriptions) or data (intervals). */
export interface OadrReport {
  dtstart?: EpochMillis;
  duration?: Millis;
  intervals?: ReportInterval[];
  eiReportID?: string;
  descriptions?: ReportDescription[];
  reportRequestID: string;
  reportSpecifierID: string;
  reportName?: ReportName;
  createdDateTime: EpochMillis;
}

export interface SpecifierPayload {
  rID: string;
  itemBase?: ItemBase;
  readingType: ReadingType;
}

export interface ReportSpecifier {
  reportSpecifierID: string;
  /** Sampling interval; 0 means "as the data source permits". */
  granularity: Millis;
  /** How often to send a report (0 = one-shot). */
  reportBackDuration: Millis;
  reportInterval?: XcalProperties;
  specifierPayloads: SpecifierPayload[];
}

export interface ReportRequest {
  reportRequestID: string;
  reportSpecifier: ReportSpecifier;
}

export interface OadrRegisterReport {
  type: 'oadrRegisterReport';
  requestID: string;
  reports: OadrReport[];
  venID?: string;
  reportRequestID?: string;
}
export interface OadrRegisteredReport {
  type: 'oadrRegisteredReport';
  eiResponse: EiResponse;
  reportRequests: ReportRequest[];
  venID?: string;
}
export interface OadrCreateReport {
  type: 'oadrCreateReport';
  requestID: string;
  reportRequests: ReportRequest[];
  venID?: string;
}
export interface OadrCreatedReport {
  type: 'oadrCreatedReport';
  eiResponse: EiResponse;
  pendingReports: string[];
  venID?: string;
}
export interface OadrUpdateReport {
  type: 'oadrUpdateReport';
  requestID: string;
  reports: OadrReport[];
  venID?: string;
}
export interface OadrCancelReport {
  type: 'oadrCancelReport';
  requestID: string;
  reportRequestIDs: string[];
  reportToFollow: boolean;
  venID?: string;
}
export interface OadrUpdatedReport {
  type: 'oadrUpdatedReport';
  eiResponse: EiResponse;
  cancelReport?: OadrCancelReport;
  venID?: string;
}
export interface OadrCanceledReport {
  type: 'oadrCanceledReport';
  eiResponse: EiResponse;
  pendingReports: string[];
  venID?: string;
}

export type ReportMessage =
  | OadrRegisterReport | OadrRegisteredReport | OadrCreateReport | OadrCreatedReport
  | OadrUpdateReport | OadrUpdatedReport | OadrCancelReport | OadrCanceledReport;

// ---------------------------------------------------------------- encode

function encodeLcs(q: string, v: LoadControlStateValue | undefined): string {
  if (!v) return '';
  return elem(q, optLeaf('oadr:oadrMin', v.min) + optLeaf('oadr:oadrMax', v.max) + leaf('oadr:oadrCurrent', v.current) + optLeaf('oadr:oadrNormal', v.normal));
}

function encodeReportPayload(p: ReportPayload): string {
  let base: string;
  if (typeof p.value === 'number') base = elem('ei:payloadFloat', leaf('ei:value', p.value));
  else {
    const s = p.value;
    const lcs = s.loadControlState
      ? elem('oadr:oadrLoadControlState', encodeLcs('oadr:oadrCapacity', s.loadControlState.capacity) +
        encodeLcs('oadr:oadrLevelOffset', s.loadControlState.levelOffset) + encodeLcs('oadr:oadrPercentOffset', s.loadControlState.percentOffset) +
        encodeLcs('oadr:oadrSetPoint', s.loadControlState.setPoint))
      : '';
    base = elem('oadr:oadrPayloadResourceStatus', leaf('oadr:oadrOnline', s.online) + leaf('oadr:oadrManualOverride', s.manualOverride) + lcs);
  }
  return elem('oadr:oadrReportPayload', leaf('ei:rID', p.rID) + optLeaf('ei:confidence', p.confidence) + optLeaf('ei:accuracy', p.accuracy) +
    base + optLeaf('oadr:oadrDataQuality', p.dataQuality));
}

function encodeDescription(d: ReportDescription): string {
  return elem('oadr:oadrReportDescription',
    leaf('ei:rID', d.rID) +
    (d.reportSubject ? encodeTarget(d.reportSubject, 'ei:reportSubject') : '') +
    (d.reportDataSource ? encodeTarget(d.reportDataSource, 'ei:reportDataSource') : '') +
    leaf('ei:reportType', d.reportType) + (d.itemBase ? encodeItemBase(d.itemBase) : '') + leaf('ei:readingType', d.readingType) +
    optLeaf('emix:marketContext', d.marketContext) +
    (d.samplingRate ? elem('oadr:oadrSamplingRate', leaf('oadr:oadrMinPeriod', formatDuration(d.samplingRate.minPeriod)) +
      leaf('oadr:oadrMaxPeriod', formatDuration(d.samplingRate.maxPeriod)) + leaf('oadr:oadrOnChange', d.samplingRate.onChange)) : ''));
}

/** Serializes one oadr:oadrReport in schema order (StreamBaseType first, then the oadr extension). */
export function encodeReport(r: OadrReport): string {
  let s = '';
  if (r.dtstart !== undefined) s += encodeDtstart(r.dtstart);
  if (r.duration !== undefined) s += encodeDurationProp('xcal:duration', r.duration);
  if (r.intervals) {
    s += elem('strm:intervals', r.intervals.map((i) => {
      let iv = '';
      if (i.dtstart !== undefined) iv += encodeDtstart(i.dtstart);
      if (i.duration !== undefined) iv += encodeDurationProp('xcal:duration', i.duration);
      if (i.uid !== undefined) iv += elem('xcal:uid', leaf('xcal:text', i.uid));
      return elem('ei:interval', iv + i.payloads.map(encodeReportPayload).join(''));
    }).join(''));
  }
  s += optLeaf('ei:eiReportID', r.eiReportID);
  s += (r.descriptions ?? []).map(encodeDescription).join('');
  s += leaf('ei:reportRequestID', r.reportRequestID) + leaf('ei:reportSpecifierID', r.reportSpecifierID) +
    optLeaf('ei:reportName', r.reportName) + leaf('ei:createdDateTime', formatDateTime(r.createdDateTime));
  return elem('oadr:oadrReport', s);
}

export function encodeReportRequest(r: ReportRequest): string {
  const sp = r.reportSpecifier;
  return elem('oadr:oadrReportRequest', leaf('ei:reportRequestID', r.reportRequestID) + elem('ei:reportSpecifier',
    leaf('ei:reportSpecifierID', sp.reportSpecifierID) + encodeDurationProp('xcal:granularity', sp.granularity) +
    encodeDurationProp('ei:reportBackDuration', sp.reportBackDuration) +
    (sp.reportInterval ? elem('ei:reportInterval', encodeProperties(sp.reportInterval)) : '') +
    sp.specifierPayloads.map((p) => elem('ei:specifierPayload', leaf('ei:rID', p.rID) + (p.itemBase ? encodeItemBase(p.itemBase) : '') +
      leaf('ei:readingType', p.readingType))).join('')));
}

const pending = (ids: string[]): string => elem('oadr:oadrPendingReports', ids.map((i) => leaf('ei:reportRequestID', i)).join(''));

function cancelInner(m: OadrCancelReport): string {
  return leaf('pyld:requestID', m.requestID) + m.reportRequestIDs.map((i) => leaf('ei:reportRequestID', i)).join('') +
    leaf('pyld:reportToFollow', m.reportToFollow) + optLeaf('ei:venID', m.venID);
}

export function encodeReportMessage(m: ReportMessage): string {
  const open = `<oadr:${m.type} ei:schemaVersion="2.0b">`;
  const close = `</oadr:${m.type}>`;
  switch (m.type) {
    case 'oadrRegisterReport':
      return open + leaf('pyld:requestID', m.requestID) + m.reports.map(encodeReport).join('') + optLeaf('ei:venID', m.venID) +
        optLeaf('ei:reportRequestID', m.reportRequestID) + close;
    case 'oadrRegisteredReport':
      return open + encodeEiResponse(m.eiResponse) + m.reportRequests.map(encodeReportRequest).join('') + optLeaf('ei:venID', m.venID) + close;
    case 'oadrCreateReport':
      return open + leaf('pyld:requestID', m.requestID) + m.reportRequests.map(encodeReportRequest).join('') + optLeaf('ei:venID', m.venID) + close;
    case 'oadrCreatedReport':
    case 'oadrCanceledReport':
      return open + encodeEiResponse(m.eiResponse) + pending(m.pendingReports) + optLeaf('ei:venID', m.venID) + close;
    case 'oadrUpdateReport':
      return open + leaf('pyld:requestID', m.requestID) + m.reports.map(encodeReport).join('') + optLeaf('ei:venID', m.venID) + close;
    case 'oadrUpdatedReport':
      return open + encodeEiResponse(m.eiResponse) + (m.cancelReport ? elem('oadr:oadrCancelReport', cancelInner(m.cancelReport)) : '') +
        optLeaf('ei:venID', m.venID) + close;
    case 'oadrCancelReport':
      return open + cancelInner(m) + close;
  }
}

// ---------------------------------------------------------------- decode

function decodeLcs(el: XmlElement | undefined, p: string): LoadControlStateValue | undefined {
  if (!el) return undefined;
  const v: LoadControlStateValue = { current: parseNumber(reqText(el, NS.oadr, 'oadrCurrent', p), `${p}/oadrCurrent`) };
  for (const [k, n] of [['min', 'oadrMin'], ['max', 'oadrMax'], ['normal', 'oadrNormal']] as const) {
    const t = optText(el, NS.oadr, n);
    if (t !== undefined) v[k] = parseNumber(t, `${p}/${n}`);
  }
  return v;
}

function decodeReportPayload(el: XmlElement, p: string): ReportPayload {
  let value: number | ResourceStatus;
  const pf = childOf(el, NS.ei, 'payloadFloat');
  const rs = childOf(el, NS.oadr, 'oadrPayloadResourceStatus');
  if (pf) value = parseNumber(reqText(pf, NS.ei, 'value', `${p}/payloadFloat`), `${p}/payloadFloat/value`);
  else if (rs) {
    const rp = `${p}/oadrPayloadResourceStatus`;
    const s: ResourceStatus = {
      online: parseBool(reqText(rs, NS.oadr, 'oadrOnline', rp), `${rp}/oadrOnline`),
      manualOverride: parseBool(reqText(rs, NS.oadr, 'oadrManualOverride', rp), `${rp}/oadrManualOverride`),
    };
    const lcs = childOf(rs, NS.oadr, 'oadrLoadControlState');
    if (lcs) {
      const st: NonNullable<ResourceStatus['loadControlState']> = {};
      setOpt(st, 'capacity', decodeLcs(childOf(lcs, NS.oadr, 'oadrCapacity'), `${rp}/oadrCapacity`));
      setOpt(st, 'levelOffset', decodeLcs(childOf(lcs, NS.oadr, 'oadrLevelOffset'), `${rp}/oadrLevelOffset`));
      setOpt(st, 'percentOffset', decodeLcs(childOf(lcs, NS.oadr, 'oadrPercentOffset'), `${rp}/oadrPercentOffset`));
      setOpt(st, 'setPoint', decodeLcs(childOf(lcs, NS.oadr, 'oadrSetPoint'), `${rp}/oadrSetPoint`));
      s.loadControlState = st;
    }
    value = s;
  } else throw invalidData(`${p}: missing payload (ei:payloadFloat or oadr:oadrPayloadResourceStatus)`);
  const out: ReportPayload = { rID: reqText(el, NS.ei, 'rID', p), value };
  const conf = optText(el, NS.ei, 'confidence');
  if (conf !== undefined) {
    out.confidence = parseUnsigned(conf, `${p}/confidence`);
    if (out.confidence > 100) throw invalidData(`${p}/confidence: must be 0..100`);
  }
  const acc = optText(el, NS.ei, 'accuracy');
  if (acc !== undefined) out.accuracy = parseNumber(acc, `${p}/accuracy`);
  setOpt(out, 'dataQuality', optText(el, NS.oadr, 'oadrDataQuality'));
  return out;
}

function decodeDescription(el: XmlElement, p: string): ReportDescription {
  const d: ReportDescription = {
    rID: reqText(el, NS.ei, 'rID', p),
    reportType: enumValue(reqText(el, NS.ei, 'reportType', p), REPORT_TYPES, `${p}/reportType`, true) as ReportType,
    readingType: enumValue(reqText(el, NS.ei, 'readingType', p), READING_TYPES, `${p}/readingType`, true) as ReadingType,
  };
  const subj = childOf(el, NS.ei, 'reportSubject');
  if (subj) d.reportSubject = decodeTarget(subj);
  const src = childOf(el, NS.ei, 'reportDataSource');
  if (src) d.reportDataSource = decodeTarget(src);
  setOpt(d, 'itemBase', decodeItemBase(el, p));
  setOpt(d, 'marketContext', optText(el, NS.emix, 'marketContext'));
  const sr = childOf(el, NS.oadr, 'oadrSamplingRate');
  if (sr) {
    const sp = `${p}/oadrSamplingRate`;
    d.samplingRate = {
      minPeriod: parseDuration(reqText(sr, NS.oadr, 'oadrMinPeriod', sp), `${sp}/oadrMinPeriod`),
      maxPeriod: parseDuration(reqText(sr, NS.oadr, 'oadrMaxPeriod', sp), `${sp}/oadrMaxPeriod`),
      onChange: parseBool(reqText(sr, NS.oadr, 'oadrOnChange', sp), `${sp}/oadrOnChange`),
    };
  }
  return d;
}

export function decodeReport(el: XmlElement, p: string): OadrReport {
  const r: OadrReport = {
    reportRequestID: reqText(el, NS.ei, 'reportRequestID', p),
    reportSpecifierID: reqText(el, NS.ei, 'reportSpecifierID', p),
    createdDateTime: parseDateTime(reqText(el, NS.ei, 'createdDateTime', p), `${p}/createdDateTime`),
  };
  setOpt(r, 'dtstart', optDtstart(el, p));
  setOpt(r, 'duration', optDuration(el, NS.xcal, 'duration', p));
  const ints = childOf(el, NS.strm, 'intervals');
  if (ints) {
    r.intervals = childrenOf(ints, NS.ei, 'interval').map((iv, n) => {
      const ip = `${p}/intervals/interval[${n}]`;
      const payloads = childrenOf(iv, NS.oadr, 'oadrReportPayload').map((pl, k) => decodeReportPayload(pl, `${ip}/oadrReportPayload[${k}]`));
      if (payloads.length === 0) throw invalidData(`${ip}: no oadr:oadrReportPayload`);
      const out: ReportInterval = { payloads };
      setOpt(out, 'dtstart', optDtstart(iv, ip));
      setOpt(out, 'duration', optDuration(iv, NS.xcal, 'duration', ip));
      const uid = childOf(iv, NS.xcal, 'uid');
      if (uid) out.uid = reqText(uid, NS.xcal, 'text', `${ip}/uid`);
      return out;
    });
  }
  setOpt(r, 'eiReportID', optText(el, NS.ei, 'eiReportID'));
  const descs = childrenOf(el, NS.oadr, 'oadrReportDescription');
  if (descs.length) r.descriptions = descs.map((d, i) => decodeDescription(d, `${p}/oadrReportDescription[${i}]`));
  const name = optText(el, NS.ei, 'reportName');
  if (name !== undefined) r.reportName = enumValue(name, REPORT_NAMES, `${p}/reportName`, true) as ReportName;
  return r;
}

export function decodeReportRequest(el: XmlElement, p: string): ReportRequest {
  const spEl = required(el, NS.ei, 'reportSpecifier', p);
  const sp = `${p}/reportSpecifier`;
  const payloads = childrenOf(spEl, NS.ei, 'specifierPayload').map((s, i) => {
    const pp = `${sp}/specifierPayload[${i}]`;
    const out: SpecifierPayload = {
      rID: reqText(s, NS.ei, 'rID', pp),
      readingType: enumValue(reqText(s, NS.ei, 'readingType', pp), READING_TYPES, `${pp}/readingType`, true) as ReadingType,
    };
    setOpt(out, 'itemBase', decodeItemBase(s, pp));
    return out;
  });
  if (payloads.length === 0) throw invalidData(`${sp}: at least one ei:specifierPayload is required`);
  const spec: ReportSpecifier = {
    reportSpecifierID: reqText(spEl, NS.ei, 'reportSpecifierID', sp),
    granularity: decodeDurationProp(required(spEl, NS.xcal, 'granularity', sp), `${sp}/granularity`),
    reportBackDuration: decodeDurationProp(required(spEl, NS.ei, 'reportBackDuration', sp), `${sp}/reportBackDuration`),
    specifierPayloads: payloads,
  };
  const ri = childOf(spEl, NS.ei, 'reportInterval');
  if (ri) spec.reportInterval = decodeProperties(ri, `${sp}/reportInterval`);
  return { reportRequestID: reqText(el, NS.ei, 'reportRequestID', p), reportSpecifier: spec };
}

function decodeCancel(el: XmlElement, p: string): OadrCancelReport {
  const ids = childrenOf(el, NS.ei, 'reportRequestID').map((c) => c.text);
  if (ids.length === 0) throw invalidData(`${p}: at least one ei:reportRequestID is required`);
  const m: OadrCancelReport = {
    type: 'oadrCancelReport',
    requestID: reqText(el, NS.pyld, 'requestID', p),
    reportRequestIDs: ids,
    reportToFollow: parseBool(reqText(el, NS.pyld, 'reportToFollow', p), `${p}/reportToFollow`),
  };
  setOpt(m, 'venID', optText(el, NS.ei, 'venID'));
  return m;
}

const pendingOf = (el: XmlElement, p: string): string[] =>
  childrenOf(required(el, NS.oadr, 'oadrPendingReports', p), NS.ei, 'reportRequestID').map((c) => c.text);

export function decodeReportMessage(el: XmlElement): ReportMessage | undefined {
  const p = `oadr:${el.name}`;
  const venID = optText(el, NS.ei, 'venID');
  const withVen = <T extends ReportMessage>(m: T): T => {
    if (venID !== undefined) (m as { venID?: string }).venID = venID;
    return m;
  };
  const reports = (): OadrReport[] => childrenOf(el, NS.oadr, 'oadrReport').map((r, i) => decodeReport(r, `${p}/oadrReport[${i}]`));
  const requests = (): ReportRequest[] => childrenOf(el, NS.oadr, 'oadrReportRequest').map((r, i) => decodeReportRequest(r, `${p}/oadrReportRequest[${i}]`));
  switch (el.name) {
    case 'oadrRegisterReport': {
      const m = withVen<OadrRegisterReport>({ type: el.name, requestID: reqText(el, NS.pyld, 'requestID', p), reports: reports() });
      setOpt(m, 'reportRequestID', optText(el, NS.ei, 'reportRequestID'));
      return m;
    }
    case 'oadrRegisteredReport':
      return withVen<OadrRegisteredReport>({ type: el.name, eiResponse: decodeEiResponse(el, p), reportRequests: requests() });
    case 'oadrCreateReport': {
      const rr = requests();
      if (rr.length === 0) throw invalidData(`${p}: at least one oadr:oadrReportRequest is required`);
      return withVen<OadrCreateReport>({ type: el.name, requestID: reqText(el, NS.pyld, 'requestID', p), reportRequests: rr });
    }
    case 'oadrCreatedReport':
    case 'oadrCanceledReport':
      return withVen<OadrCreatedReport | OadrCanceledReport>({ type: el.name, eiResponse: decodeEiResponse(el, p), pendingReports: pendingOf(el, p) });
    case 'oadrUpdateReport':
      return withVen<OadrUpdateReport>({ type: el.name, requestID: reqText(el, NS.pyld, 'requestID', p), reports: reports() });
    case 'oadrUpdatedReport': {
      const m = withVen<OadrUpdatedReport>({ type: el.name, eiResponse: decodeEiResponse(el, p) });
      const c = childOf(el, NS.oadr, 'oadrCancelReport');
      if (c) m.cancelReport = decodeCancel(c, `${p}/oadrCancelReport`);
      return m;
    }
    case 'oadrCancelReport':
      return decodeCancel(el, p);
    default:
      return undefined;
  }
}
