/**
 * The gateway's side of R4 around the OpenADR stack's VEN.
 *
 * The VEN (src/protocols/openadr/ven.ts) runs registration, polling with back-off, report
 * registration and periodic reports. Events, however, must pass the command guard before
 * anything else sees them, and the guard's refusals must reach the aggregator with their own
 * OpenADR codes (463, 450, 462, 454...) — the VEN's event callback can only answer optIn or
 * optOut with 200. So `UpstreamTransport` sits between the VEN and the HTTPS transport: every
 * reply from the VTN passes through it; an oadrDistributeEvent is taken out, handled by the
 * gateway (guard → engine → oadrCreatedEvent with per-event codes, signed with the gateway's
 * key) and the VEN is handed a plain "nothing pending" oadrResponse instead. Every other
 * payload goes to the VEN unchanged.
 *
 * `aggregatorSignatureVerifier` adapts the OpenADR XML signature verification to the guard:
 * the key is the aggregator's certificate from the gateway's configuration (never the one a
 * payload carries); replay checks (nonce, timestamp) are left to the guard so that they are
 * persistent and answered with 450 rather than 463.
 */
import type { Clock } from '../../core/clock.js';
import type { OadrTransport } from '../../protocols/openadr/http.js';
import type { OadrDistributeEvent } from '../../protocols/openadr/event.js';
import { decodePayload, encodePayload, type OadrMessage } from '../../protocols/openadr/payload.js';
import type { ServiceName } from '../../protocols/openadr/register-party.js';
import { oadrResponse } from '../../protocols/openadr/response.js';
import { NonceCache, signXml, verifyPayload, type SigningKey } from '../../protocols/openadr/signature.js';
import { identityFromCertificate } from '../../security/identity.js';
import type { SignatureVerdict, SignatureVerifier } from './command-guard.js';

/**
 * Verifies OpenADR XML signatures against the aggregator's certificate.
 * @example const verifier = aggregatorSignatureVerifier(readFileSync('aggregator.pem', 'utf8'), clock);
 */
export function aggregatorSignatureVerifier(aggregatorCertPem: string, clock: Clock): SignatureVerifier {
  const who = identityFromCertificate(aggregatorCertPem);
  return {
    verify(rawXml: string): SignatureVerdict {
      let hasSignature: boolean;
      try {
        hasSignature = decodePayload(rawXml).hasSignature;
      } catch (err) {
        return { ok: false, kind: 'invalid', reason: `payload does not decode: ${(err as Error).message}` };
      }
      if (!hasSignature) return { ok: false, kind: 'missing', reason: 'no ds:Signature' };
      try {
        // A fresh nonce cache and an unbounded window: the guard keeps the replay state.
        const v = verifyPayload(rawXml, { signerCertificatePem: aggregatorCertPem, clock, nonces: new NonceCache(1), windowMs: Number.MAX_SAFE_INTEGER });
        return {
          ok: true,
          signer: { fingerprint: v.signer.fingerprint, role: who.role, id: who.id },
          replayProtect: { nonce: v.nonce, timestamp: v.timestamp },
        };
      } catch (err) {
        return { ok: false, kind: 'invalid', reason: (err as Error).message };
      }
    },
  };
}

/** Handles one oadrDistributeEvent (raw XML as received, and decoded). */
export type DistributeHandler = (rawXml: string, message: OadrDistributeEvent) => Promise<void>;

/**
 * The transport the VEN uses: forwards to `inner`, reports every successful exchange
 * (`onContact`, for the fail-safe), and diverts oadrDistributeEvent to the gateway.
 */
export class UpstreamTransport implements OadrTransport {
  constructor(
    private readonly inner: OadrTransport,
    private readonly onDistribute: DistributeHandler,
    private readonly onContact: () => void,
    private readonly venId: () => string | undefined,
  ) {}

  async post(service: ServiceName, xml: string): Promise<string> {
    const reply = await this.inner.post(service, xml);
    this.onContact();
    if (!reply.includes('oadrDistributeEvent')) return reply;
    let message: OadrMessage;
    try {
      message = decodePayload(reply).message;
    } catch {
      return reply; // malformed: the VEN's own decoder refuses and audits it
    }
    if (message.type !== 'oadrDistributeEvent') return reply;
    await this.onDistribute(reply, message);
    return encodePayload(oadrResponse(200, '', this.venId()));
  }

  /** Sends a payload of the gateway's own (signed when a key is given) and returns the decoded reply. */
  async send(message: OadrMessage, service: ServiceName, key: SigningKey | undefined, clock: Clock): Promise<OadrMessage> {
    const unsigned = encodePayload(message);
    const xml = key ? signXml(unsigned, key, { clock }) : unsigned;
    const reply = await this.inner.post(service, xml);
    this.onContact();
    return decodePayload(reply).message;
  }

  close(): void {
    this.inner.close();
  }
}
