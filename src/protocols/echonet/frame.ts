/**
 * The ECHONET Lite frame codec (pure, no sockets).
 *
 * ECHONET Lite Specification Ver.1.14 Part 2 Chapter 3, specified message format (Format 1):
 *
 *   EHD1(1)=0x10 EHD2(1)=0x81 TID(2) SEOJ(3) DEOJ(3) ESV(1) OPC(1) {EPC(1) PDC(1) EDT(PDC)}×OPC
 *
 * SetGet (0x6E) and its responses (0x7E, 0x5E) carry two lists: OPCSet + set properties,
 * then OPCGet + get properties (§3.2.5, Figure 3-3). The arbitrary message format
 * (EHD2 = 0x82, Format 2) is refused unless a caller opts in.
 */
import { type Eoj } from './eoj.js';
import { FrameError, hex8 } from './errors.js';
import { esvName, hasTwoLists, isEsv, type EsvCode } from './esv.js';

/** EHD1: 0x10 declares the ECHONET Lite protocol (Part 2 §3.2.1). */
export const EHD1 = 0x10;
/** EHD2: 0x81 = specified message format, 0x82 = arbitrary format (Part 2 §3.2.1). */
export const EHD2_SPECIFIED = 0x81;
export const EHD2_ARBITRARY = 0x82;
/** EHD1..OPC is 12 bytes. */
export const HEADER_LENGTH = 12;
/**
 * Default ceiling for a datagram we accept. The standard does not cap the frame, but every
 * sane frame fits an Ethernet MTU; anything far larger is refused before parsing.
 */
export const DEFAULT_MAX_FRAME_BYTES = 4096;

/** One property in a frame: EPC and its data (PDC = edt.length; Get requests carry PDC 0). */
export interface Property {
  epc: number;
  edt: Uint8Array;
}

/** A decoded specified-format frame. */
export interface Frame {
  tid: number;
  seoj: Eoj;
  deoj: Eoj;
  esv: EsvCode;
  /** The property list; for SetGet family the "set" list. */
  properties: Property[];
  /** For SetGet, SetGet_Res and SetGet_SNA only: the "get" list. */
  getProperties?: Property[];
}

/** A frame in the arbitrary message format (EHD2 0x82), returned only when allowed. */
export interface ArbitraryFrame {
  tid: number;
  edata: Uint8Array;
}

export interface DecodeOptions {
  /** Refuse datagrams longer than this (default 4096). */
  maxBytes?: number;
}

const EMPTY = new Uint8Array(0);

/** A property with no data, as in a Get request or a Set_Res acceptance. */
export function emptyProperty(epc: number): Property {
  return { epc, edt: EMPTY };
}

/**
 * Decodes one datagram. Throws FrameError naming the byte and the rule on any violation:
 * truncated header, wrong EHD, undefined ESV, PDC beyond the datagram, OPC that does not
 * match the bytes present (missing or trailing).
 *
 * @example
 * const f = decodeFrame(Buffer.from('1081000105FF010EF0016201D600', 'hex'));
 * // f.esv === Esv.Get, f.properties[0].epc === 0xD6
 */
export function decodeFrame(buf: Uint8Array, options: DecodeOptions = {}): Frame {
  const max = options.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (buf.length > max) throw new FrameError(max, `datagram is ${buf.length} bytes, more than the ${max} accepted`);
  if (buf.length < 1) throw new FrameError(0, 'empty datagram');
  if (buf[0] !== EHD1) throw new FrameError(0, `EHD1 is 0x${hex8(buf[0]!)}, expected 0x10 (ECHONET Lite, Part 2 §3.2.1)`);
  if (buf.length < 2) throw new FrameError(1, 'truncated: EHD2 missing');
  if (buf[1] === EHD2_ARBITRARY) {
    throw new FrameError(1, 'EHD2 is 0x82 (arbitrary message format, Format 2), which is not accepted; only 0x81 (specified format)');
  }
  if (buf[1] !== EHD2_SPECIFIED) throw new FrameError(1, `EHD2 is 0x${hex8(buf[1]!)}, expected 0x81 (specified message format)`);
  if (buf.length < HEADER_LENGTH) {
    throw new FrameError(buf.length, `truncated: frame is ${buf.length} bytes, the header up to OPC needs ${HEADER_LENGTH}`);
  }
  const tid = (buf[2]! << 8) | buf[3]!;
  const seoj = ((buf[4]! << 16) | (buf[5]! << 8) | buf[6]!) as Eoj;
  const deoj = ((buf[7]! << 16) | (buf[8]! << 8) | buf[9]!) as Eoj;
  const esv = buf[10]!;
  if (!isEsv(esv)) throw new FrameError(10, `ESV 0x${hex8(esv)} is not a service code defined in Part 2 §3.2.5`);
  let offset = 11;
  const first = readList(buf, offset, 'OPC');
  offset = first.next;
  let getProperties: Property[] | undefined;
  if (hasTwoLists(esv)) {
    if (offset >= buf.length) throw new FrameError(offset, `truncated: ${esvName(esv)} needs OPCGet after the set list`);
    const second = readList(buf, offset, 'OPCGet');
    offset = second.next;
    getProperties = second.props;
  }
  if (offset !== buf.length) {
    throw new FrameError(offset, `OPC mismatch: ${buf.length - offset} byte(s) after the ${first.props.length} declared propert${first.props.length === 1 ? 'y' : 'ies'}`);
  }
  const frame: Frame = { tid, seoj, deoj, esv, properties: first.props };
  if (getProperties) frame.getProperties = getProperties;
  return frame;
}

function readList(buf: Uint8Array, at: number, label: string): { props: Property[]; next: number } {
  const opc = buf[at]!;
  let p = at + 1;
  const props: Property[] = [];
  for (let i = 0; i < opc; i++) {
    if (p + 2 > buf.length) {
      throw new FrameError(p, `truncated: ${label}=${opc} but property ${i + 1} has no ${p < buf.length ? 'PDC' : 'EPC'}`);
    }
    const epc = buf[p]!;
    const pdc = buf[p + 1]!;
    if (p + 2 + pdc > buf.length) {
      throw new FrameError(p + 1, `PDC of EPC 0x${hex8(epc)} (property ${i + 1} of ${label}=${opc}) is ${pdc} but only ${buf.length - p - 2} byte(s) remain`);
    }
    props.push({ epc, edt: buf.subarray(p + 2, p + 2 + pdc) });
    p += 2 + pdc;
  }
  return { props, next: p };
}

/** The outcome of `safeDecodeFrame`: never throws. */
export type DecodeResult = { ok: true; frame: Frame } | { ok: false; error: FrameError };

/**
 * The entry point for untrusted datagrams: decodes or returns the FrameError; no exception
 * escapes (a bug in the codec surfaces as a FrameError at offset 0 rather than a crash).
 */
export function safeDecodeFrame(buf: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  try {
    return { ok: true, frame: decodeFrame(buf, options) };
  } catch (err) {
    if (err instanceof FrameError) return { ok: false, error: err };
    return { ok: false, error: new FrameError(0, `undecodable: ${err instanceof Error ? err.message : String(err)}`) };
  }
}

/**
 * Encodes a frame. Throws FrameError (offset into the frame being built) if a field does not
 * fit the format: TID beyond 16 bits, more than 255 properties, EDT longer than 255 bytes, a
 * second list on a service that has none.
 *
 * @example
 * encodeFrame({ tid: 1, seoj: eoj(0x05ff, 1), deoj: eoj(0x027d, 1), esv: Esv.Get,
 *   properties: [emptyProperty(0xE4)] });
 */
export function encodeFrame(frame: Frame): Buffer {
  if (!Number.isInteger(frame.tid) || frame.tid < 0 || frame.tid > 0xffff) throw new FrameError(2, `TID ${frame.tid} is not 0–65535`);
  if (!isEsv(frame.esv)) throw new FrameError(10, `ESV ${frame.esv} is not a defined service code`);
  const two = hasTwoLists(frame.esv);
  if (!two && frame.getProperties !== undefined) throw new FrameError(10, `${esvName(frame.esv)} has no second (get) property list`);
  const lists = two ? [frame.properties, frame.getProperties ?? []] : [frame.properties];
  let size = HEADER_LENGTH - 1;
  for (const list of lists) {
    if (list.length > 255) throw new FrameError(size, `${list.length} properties exceed OPC's maximum of 255`);
    size += 1;
    for (const p of list) {
      if (!Number.isInteger(p.epc) || p.epc < 0 || p.epc > 0xff) throw new FrameError(size, `EPC ${p.epc} is not a byte`);
      if (p.edt.length > 255) throw new FrameError(size + 1, `EDT of EPC 0x${hex8(p.epc)} is ${p.edt.length} bytes, PDC allows 255`);
      size += 2 + p.edt.length;
    }
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = EHD1;
  out[1] = EHD2_SPECIFIED;
  out[2] = frame.tid >>> 8;
  out[3] = frame.tid & 0xff;
  writeEoj(out, 4, frame.seoj);
  writeEoj(out, 7, frame.deoj);
  out[10] = frame.esv;
  let p = 11;
  for (const list of lists) {
    out[p++] = list.length;
    for (const prop of list) {
      out[p++] = prop.epc;
      out[p++] = prop.edt.length;
      out.set(prop.edt, p);
      p += prop.edt.length;
    }
  }
  return out;
}

function writeEoj(out: Buffer, at: number, o: Eoj): void {
  if (!Number.isInteger(o) || o < 0 || o > 0xffffff) throw new FrameError(at, `EOJ ${o} is not three bytes`);
  out[at] = (o >>> 16) & 0xff;
  out[at + 1] = (o >>> 8) & 0xff;
  out[at + 2] = o & 0xff;
}

/**
 * Decodes a frame in the arbitrary message format (EHD2 0x82): only the header is defined,
 * EDATA is opaque (Part 2 §3.2.1). Offered for callers that explicitly ask for Format 2.
 */
export function decodeArbitraryFrame(buf: Uint8Array, options: DecodeOptions = {}): ArbitraryFrame {
  const max = options.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  if (buf.length > max) throw new FrameError(max, `datagram is ${buf.length} bytes, more than the ${max} accepted`);
  if (buf.length < 4) throw new FrameError(buf.length, `truncated: ${buf.length} bytes, EHD and TID need 4`);
  if (buf[0] !== EHD1) throw new FrameError(0, `EHD1 is 0x${hex8(buf[0]!)}, expected 0x10`);
  if (buf[1] !== EHD2_ARBITRARY) throw new FrameError(1, `EHD2 is 0x${hex8(buf[1]!)}, expected 0x82 (arbitrary format)`);
  return { tid: (buf[2]! << 8) | buf[3]!, edata: buf.subarray(4) };
}
