/**
 * Errors of the ECHONET Lite codec. A frame from the network that breaks the rules of
 * ECHONET Lite Specification Ver.1.14 Part 2 Chapter 3 (frame format) is bad input from a peer,
 * never our bug: it is an InvalidInputError that names the byte offset and the rule broken.
 */
import { InvalidInputError } from '../../core/errors.js';

/** A received or constructed frame violates the frame format; `offset` is the offending byte. */
export class FrameError extends InvalidInputError {
  /** Zero-based offset of the byte that broke the rule. */
  readonly offset: number;
  /** The rule broken, in words (without the offset prefix). */
  readonly reason: string;
  constructor(offset: number, reason: string) {
    super(`ECHONET Lite frame rejected at byte ${offset}: ${reason}`, { code: 'echonet_frame' });
    this.offset = offset;
    this.reason = reason;
  }
}

/** A property value (EDT) that does not match its definition: size, range or enumeration. */
export class PropertyValueError extends InvalidInputError {
  readonly epc: number;
  constructor(epc: number, reason: string) {
    super(`EPC 0x${hex8(epc)}: ${reason}`, { code: 'echonet_property_value' });
    this.epc = epc;
  }
}

/** Two-digit upper-case hex of a byte. */
export function hex8(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

/** Upper-case hex of a byte sequence, no separators. */
export function hexBytes(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += hex8(x);
  return s;
}

/** A request got no matching response within the timeout and all retries. */
export class EchonetTimeoutError extends Error {
  readonly code = 'echonet_timeout';
  constructor(message: string) {
    super(message);
    this.name = 'EchonetTimeoutError';
  }
}
