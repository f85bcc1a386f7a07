/**
 * TLS settings per interface (docs/architecture.md §1). The ERAB cybersecurity guideline §3.3 makes
 * mutual authentication and encryption a 勧告 (recommendation to follow) on R1–R4; erab applies
 * it to every listener.
 *
 * - Versions: TLS 1.2 minimum, TLS 1.3 allowed. OpenADR 2.0b requires TLS 1.2; older
 *   versions are refused at the handshake.
 * - Cipher suites on the OpenADR interfaces (R1–R4): modern AEAD suites first, then the two
 *   suites OpenADR 2.0b mandates every VTN and VEN support (OpenADR 2.0b Profile
 *   Specification, security chapter): TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 (for ECC
 *   certificates) and TLS_RSA_WITH_AES_128_CBC_SHA256 (for RSA certificates). The server's
 *   order wins, so peers that can do better get AEAD.
 * - Non-OpenADR listeners (console, API, syslog) have no legacy peers and offer AEAD only.
 */

/** One interface's TLS profile. */
export interface TlsProfile {
  /** Short name used in audit records and the session id context, e.g. "R1". */
  name: string;
  description: string;
  /** OpenSSL cipher string for TLS 1.2 followed by the TLS 1.3 suites (node takes both in one). */
  ciphers: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
}

/** TLS 1.3 suites (RFC 8446 §9.1 mandates TLS_AES_128_GCM_SHA256; all three are AEAD). */
export const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const;

/** TLS 1.2 AEAD suites with forward secrecy, OpenSSL names. */
export const TLS12_AEAD_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;

/** The OpenADR 2.0b mandatory suites, OpenSSL name → IANA name. */
export const OPENADR_SUITES = {
  'ECDHE-ECDSA-AES128-SHA256': 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256',
  'AES128-SHA256': 'TLS_RSA_WITH_AES_128_CBC_SHA256',
} as const;

const OPENADR_CIPHERS = [...TLS13_SUITES, ...TLS12_AEAD_SUITES, ...Object.keys(OPENADR_SUITES)].join(':');
const MODERN_CIPHERS = [...TLS13_SUITES, ...TLS12_AEAD_SUITES].join(':');

function openadr(name: string, description: string): TlsProfile {
  return { name, description, ciphers: OPENADR_CIPHERS, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' };
}
function modern(name: string, description: string): TlsProfile {
  return { name, description, ciphers: MODERN_CIPHERS, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' };
}

/** The built-in profiles, by interface. */
export const TLS_PROFILES = {
  R1: openadr('R1', 'TSO ↔ aggregator, OpenADR 2.0b'),
  R2: openadr('R2', 'retailer ↔ aggregator, OpenADR 2.0b'),
  R3: openadr('R3', 'aggregator ↔ aggregator, OpenADR 2.0b'),
  R4: openadr('R4', 'aggregator ↔ EMS/gateway, OpenADR 2.0b pull'),
  console: modern('console', 'operator console and HTTP API'),
  syslog: modern('syslog', 'audit export, syslog over TLS (RFC 5425)'),
  R5: modern('R5', 'gateway ↔ device beyond the home LAN, ECHONET Lite Web API (HTTPS + OAuth 2.0)'),
} as const satisfies Record<string, TlsProfile>;

export type TlsProfileName = keyof typeof TLS_PROFILES;

/** Resolves a profile by name or returns a custom profile object unchanged. */
export function tlsProfile(p: TlsProfileName | TlsProfile): TlsProfile {
  return typeof p === 'string' ? TLS_PROFILES[p] : p;
}
