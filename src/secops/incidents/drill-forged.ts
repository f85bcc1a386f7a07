/**
 * The forged-command drill's attack (ERAB §3.3 "the correct command from the correct operator";
 * 自家用GL 7-1-2 illegitimate commands): a peer the listener admits at TLS sends a signed OpenADR
 * request whose XML signature is forged — made with a key that is not the presenting
 * certificate's, as a relayed or tampered command would be. The listener must refuse it at its
 * signature check (OpenADR 463, "XML signature refused"), audit the refusal, and detection must
 * raise `forged-signature`.
 *
 * The drill's identity, `<role>:DRILL-FORGER`, is issued by the deployment's own CA for the drill
 * and revoked when it ends (CRL rewritten), so it exists only while a drill runs. Its role is the
 * one the target admits: `aggregator` at a TSO's or retailer's R1/R2 (admitted by role), `gateway`
 * at an aggregator's R4 (admitted by name: list `gateway:DRILL-FORGER` in the aggregator's
 * `downstream.allowList.participants` to drill it). The payload is an oadrCreatePartyRegistration
 * — the one request a certificate that is not registered yet may send — and the check that
 * refuses it is the one every signed payload goes through. The gateway side (a forged
 * oadrDistributeEvent refused by the gateway's command guard) is played by `erab demo`.
 */
import { request } from 'node:https';
import { describeError, explain, InvalidInputError } from '../../core/errors.js';
import { systemClock } from '../../core/clock.js';
import { encodePayload } from '../../protocols/openadr/payload.js';
import { signXml } from '../../protocols/openadr/signature.js';
import { CertificateAuthority } from '../../security/pki/authority.js';
import { openPki } from '../../security/pki/store.js';

export const FORGER_ID = 'DRILL-FORGER';

export interface ForgerIdentity {
  participant: string;
  serial: string;
  certPem: string;
  keyPem: string;
  /** The key the forged signature is made with (not the certificate's). */
  forgingKey: { privateKeyPem: string; certificatePem: string };
  revoke(): Promise<string[]>;
}

/** The role the target admits from its peers: aggregators at a TSO/retailer, gateways at an aggregator. */
export const forgerRoleFor = (participant: string): 'aggregator' | 'gateway' => (/^(tso|retailer):/.test(participant) ? 'aggregator' : 'gateway');

/** Issues `<role>:DRILL-FORGER` in the deployment's PKI (a left-over one from a drill that died is revoked first). */
export async function issueForger(participant: string, pkiDir: string | undefined, passphrase: string | undefined): Promise<ForgerIdentity> {
  if (!pkiDir) throw new InvalidInputError(explain('drill.forgedNeedsPki'));
  const pki = await openPki({ dir: pkiDir, ...(passphrase !== undefined ? { passphrase } : {}) });
  const role = forgerRoleFor(participant);
  if (pki.list().some((c) => c.role === role && c.id === FORGER_ID && c.status === 'valid')) await pki.revoke({ role, id: FORGER_ID }, 'cessationOfOperation');
  const c = await pki.issue({ role, id: FORGER_ID, days: 1 });
  // The forger's signing key: from a CA of its own, so the signature cannot verify against the certificate it presents.
  const other = await CertificateAuthority.create({ commonName: 'erab DRILL forger CA', days: 2 });
  const k = await other.issue({ role, id: FORGER_ID, days: 1 });
  return {
    participant: `${role}:${FORGER_ID}`, serial: c.serial, certPem: c.certPem, keyPem: c.keyPem,
    forgingKey: { privateKeyPem: k.keyPem, certificatePem: k.certPem },
    revoke: () => pki.revoke({ serial: c.serial }, 'cessationOfOperation'),
  };
}

/** The forged request: a registration for the forger, signed with the forging key. */
export function forgedPayload(forger: ForgerIdentity, n: number): string {
  const xml = encodePayload({
    type: 'oadrCreatePartyRegistration', requestID: `drill-forged-${n}-${Date.now().toString(36)}`, venID: FORGER_ID, venName: FORGER_ID,
    profileName: '2.0b', transportName: 'simpleHttp', reportOnly: false, xmlSignature: true, httpPullModel: true,
  });
  return signXml(xml, forger.forgingKey, { clock: systemClock });
}

/**
 * Sends one forged request; resolves to what the listener did: `signature refused (463 …)`,
 * `refused (…)` for any other refusal (TLS, HTTP, another OpenADR code), `answered 200 …` when it
 * accepted the request (the drill fails), or `unreachable (…)`.
 */
export function sendForged(host: string, port: number, forger: ForgerIdentity, body: string): Promise<string> {
  return new Promise((resolve) => {
    let reached = false;
    const req = request({
      host, port, method: 'POST', path: '/OpenADR2/Simple/2.0b/EiRegisterParty', agent: false, timeout: 5000,
      cert: forger.certPem, key: forger.keyPem, rejectUnauthorized: false,
      ...(host === '::1' || /^\d/.test(host) ? {} : { servername: host }),
      headers: { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (data.length < 64 * 1024) data += c; });
      res.on('end', () => {
        const code = /<(?:\w+:)?responseCode>\s*(\d{3})\s*</.exec(data)?.[1];
        const why = /<(?:\w+:)?responseDescription>([^<]{0,200})</.exec(data)?.[1] ?? '';
        if (res.statusCode !== 200) resolve(`refused (HTTP ${res.statusCode})`);
        else if (code === '463' && /XML signature refused/.test(why)) resolve(`signature refused (463 ${why.slice(0, 120)})`);
        else if (code && code !== '200') resolve(`refused (OpenADR ${code} ${why.slice(0, 120)})`);
        else resolve(`answered 200 ${why.slice(0, 80)}`);
      });
    });
    req.on('socket', (s) => s.once('connect', () => { reached = true; }));
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (e) => resolve(reached ? `refused (${describeError(e).slice(0, 100)})` : `unreachable (${describeError(e).slice(0, 100)})`));
    req.end(body);
  });
}
