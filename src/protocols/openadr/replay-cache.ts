/**
 * Where a verifier of OpenADR XML signatures remembers the ReplayProtect nonces it accepted
 * (OpenADR 2.0b Profile Specification §10, dsp:ReplayProtect: a nonce must not be accepted
 * twice while its timestamp can still pass the window).
 *
 * The check is split in two so the verifier's hot path stays synchronous:
 *  1. `check` claims the nonce in memory while the signature is verified (a replay this
 *     verifier has seen — in this run or, for a store-backed cache, before a restart — is
 *     refused at once);
 *  2. `confirm` settles the claim where other verifiers and the next start can see it (the
 *     store). The caller awaits it before it acts on the payload or answers it.
 * The memory cache (`NonceCache` in ./signature.ts) settles at once; the store-backed one lives
 * in the roles layer (src/endpoints/openadr/nonce-store.ts), because protocols never import the store.
 */
import { OadrError, OadrResponseCode } from './errors.js';

export interface ReplayCache {
  /**
   * Claims `nonce` for a payload verified at `now` whose ReplayProtect timestamp is `timestamp`
   * (both epoch ms). False when the nonce is already claimed and can still pass the window: a replay.
   */
  check(nonce: string, now: number, timestamp?: number): boolean;
  /**
   * Settles a claim `check` granted: true once it is durable and this verifier holds the nonce,
   * false when another verifier sharing the store had claimed it first (a replay). A plain
   * `true` when there is nothing to wait for.
   */
  confirm(nonce: string): boolean | Promise<boolean>;
}

/**
 * Awaits `cache.confirm(nonce)` and refuses the payload as a replay (463, like every other
 * signature refusal) when another verifier holds the nonce. Allocates nothing when the cache
 * settles at once.
 * @example verifyPayload(xml, { ..., nonces }); await confirmNonce(nonces, verified.nonce);
 */
export function confirmNonce(cache: ReplayCache, nonce: string): void | Promise<void> {
  const settled = cache.confirm(nonce);
  if (settled === true) return;
  if (settled === false) throw replayRefusal();
  return settled.then((ok) => {
    if (!ok) throw replayRefusal();
  });
}

const replayRefusal = (): OadrError =>
  new OadrError(OadrResponseCode.NOT_REGISTERED_OR_AUTHORIZED, 'XML signature refused: nonce already used (replay, claimed by another verifier of this store)');
