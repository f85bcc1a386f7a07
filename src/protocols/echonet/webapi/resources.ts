/**
 * What the ECHONET Lite Web API (the ECHONET Consortium's ECHONET Lite Web API Guideline: HTTPS,
 * authorisation by OAuth 2.0) looks like in erab, shared by the server (./server.ts, the device
 * side) and the client (./client.ts, the controller side). A minimal profile of the guideline:
 *
 *   POST /elapi/oauth/token                                   OAuth 2.0 client credentials grant (RFC 6749 §4.4)
 *   GET  /elapi/v1/devices                                    {devices: [{id, deviceType, eoj}]}
 *   GET  /elapi/v1/devices/{id}                               {id, deviceType, eoj, properties: [{name, epc, get, set, form}]}
 *   GET  /elapi/v1/devices/{id}/properties                    {<name>: <value>, ...} every readable property
 *   GET  /elapi/v1/devices/{id}/properties/{name}             {<name>: <value>}
 *   PUT  /elapi/v1/devices/{id}/properties/{name}             body {<name>: <value>} → {<name>: <value>}
 *
 * Where erab departs from the guideline, on purpose, to stay small and lossless:
 * - a device's id is its EOJ in hex ("027d01"), and the node profile is served as a device
 *   ("0ef001") so that a controller identifies a node over the Web API as it does over UDP;
 * - property names are the Machine Readable Appendix short names (the generated tables), or
 *   "0xNN" for an EPC the tables do not name (maker-specific); either form is accepted;
 * - values are typed (a number in the property's unit, a state name, true/false for
 *   operationStatus, as the guideline's Device Descriptions give them) only for the storage
 *   battery's main properties (TYPED below); every other value is in the guideline's raw form (the
 *   EDT as upper-case hex). A typed property also accepts the raw form on a PUT. State names are
 *   erab's class definitions' (src/protocols/echonet/objects), which were not checked name by
 *   name against the Device Description files. Both ends check values against the same Appendix
 *   tables.
 * Errors are {type, message} with the HTTP status (400 rangeError, 401 and 403 authorisation,
 * 404 referenceError, 405 methodNotAllowed).
 */
import { InvalidInputError } from '../../../core/errors.js';
import { eojClass, formatEoj, parseEoj, type Eoj } from '../eoj.js';
import { appendixProperty } from '../objects/appendix.js';
import { classDefinition } from '../objects/index.js';

/** The path prefix of the device resources. */
export const ELAPI_PREFIX = '/elapi/v1';
/** The OAuth 2.0 token endpoint (client credentials). */
export const ELAPI_TOKEN_PATH = '/elapi/oauth/token';

/** A device's id in the Web API: its EOJ in lower-case hex. */
export function deviceIdOf(o: Eoj): string {
  return formatEoj(o).toLowerCase();
}

/** The EOJ behind a device id ("027d01"); an id that is not six hex digits is refused. */
export function eojOfDeviceId(id: string): Eoj {
  if (!/^[0-9a-fA-F]{6}$/.test(id)) throw new InvalidInputError(`Web API device id "${id.slice(0, 40)}" is not an EOJ in hex (e.g. 027d01)`);
  return parseEoj(id);
}

/** The Web API name of a property of class `eoj`: the Appendix short name, else "0xNN". */
export function propertyNameOf(o: Eoj, epc: number): string {
  return appendixProperty(eojClass(o), epc)?.name ?? `0x${epc.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** The EPC behind a property name of class `eoj` ("operationMode" or "0xDA"), or undefined. */
export function epcOfPropertyName(o: Eoj, name: string, known: Iterable<number>): number | undefined {
  const m = /^0x([0-9a-fA-F]{2})$/.exec(name);
  if (m) return Number.parseInt(m[1]!, 16);
  for (const epc of known) if (propertyNameOf(o, epc) === name) return epc;
  return undefined;
}

/** The raw value form: the EDT as upper-case hex. */
export function rawValue(edt: Uint8Array): string {
  return Buffer.from(edt).toString('hex').toUpperCase();
}

/** The EDT of a raw value; anything but an even number of hex digits (at most 255 bytes) is refused. */
export function edtOfRawValue(v: unknown, name: string): Uint8Array {
  if (typeof v !== 'string' || !/^(?:[0-9a-fA-F]{2}){1,255}$/.test(v)) {
    throw new InvalidInputError(`Web API value of "${name.slice(0, 60)}" must be the EDT as hex (1–255 bytes, e.g. "42")`);
  }
  return Uint8Array.from(Buffer.from(v, 'hex'));
}

/** A property value in the Web API: typed (number, state name, boolean) or raw (EDT hex). */
export type WebApiValue = string | number | boolean;

const OPERATION_STATUS = 0x80;
/**
 * Properties whose values travel typed, by class: the storage battery's operation status, modes,
 * capacities, powers and remaining capacity. The codec is the class definition's, so the typed
 * form and the EDT cannot disagree.
 */
const TYPED: ReadonlyMap<number, ReadonlySet<number>> = new Map([
  [0x027d, new Set([OPERATION_STATUS, 0xa0, 0xa1, 0xa4, 0xa5, 0xaa, 0xab, 0xcf, 0xd0, 0xd3, 0xda, 0xdb, 0xe2, 0xe4, 0xeb, 0xec])],
]);
const RAW_HEX = /^(?:[0-9a-fA-F]{2}){1,255}$/;

function typedCodec(o: Eoj, epc: number) {
  return TYPED.get(eojClass(o))?.has(epc) ? classDefinition(eojClass(o))?.byEpc.get(epc)?.codec : undefined;
}

/** Whether property `epc` of `o` travels typed ("typed") or as EDT hex ("raw"). */
export function valueFormOf(o: Eoj, epc: number): 'typed' | 'raw' {
  return typedCodec(o, epc) ? 'typed' : 'raw';
}

/** The Web API value of an EDT: typed where the property is, else raw; an EDT the codec cannot read stays raw. */
export function valueOf(o: Eoj, epc: number, edt: Uint8Array): WebApiValue {
  const codec = typedCodec(o, epc);
  if (!codec) return rawValue(edt);
  try {
    const v = codec.decode(edt) as unknown;
    if (epc === OPERATION_STATUS) return v === 'on';
    return typeof v === 'number' || typeof v === 'string' ? v : rawValue(edt);
  } catch {
    return rawValue(edt);
  }
}

/**
 * The EDT of a Web API value: for a typed property its typed form (or the raw form, EDT hex, which
 * no typed value of these properties looks like), else the raw form; anything else is refused
 * naming the property and the rule.
 */
export function edtOfValue(o: Eoj, epc: number, v: unknown, name: string): Uint8Array {
  const codec = typedCodec(o, epc);
  if (!codec || (typeof v === 'string' && RAW_HEX.test(v))) return edtOfRawValue(v, name);
  const typed = epc === OPERATION_STATUS && typeof v === 'boolean' ? (v ? 'on' : 'off') : v;
  const rule = `${epc === OPERATION_STATUS ? 'true or false' : codec.type}, or the EDT as hex`;
  if (typeof typed !== 'number' && typeof typed !== 'string') throw new InvalidInputError(`Web API value of "${name.slice(0, 60)}" must be ${rule}`);
  try {
    return codec.encode(typed as never);
  } catch (err) {
    throw new InvalidInputError(`Web API value of "${name.slice(0, 60)}": ${(err as Error).message} (must be ${rule})`);
  }
}
