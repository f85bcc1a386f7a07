/**
 * A hook that lets a transport hand each client socket to whoever made its TLS options, without
 * knowing who that is. The security layer (src/security/tls/client.ts) attaches a revocation
 * guard to the options it builds; a protocol transport (OpenADR over HTTPS) calls
 * guardClientSocket for every socket it gets. Core holds the hook so that protocols/ need not
 * import security/.
 */
import type * as tls from 'node:tls';

/** Something that watches client sockets (e.g. closes them when the server's certificate is revoked). */
export interface SocketGuard {
  track(socket: tls.TLSSocket): void;
}

const GUARD = Symbol('erab.tls.clientSocketGuard');

/**
 * Attaches `guard` to `options` (non-enumerable, so spreading the options into node's tls or
 * https calls does not copy it by accident and JSON logs never show it).
 */
export function attachSocketGuard(options: object, guard: SocketGuard): void {
  Object.defineProperty(options, GUARD, { value: guard, enumerable: false });
}

/**
 * Puts a client socket made with `options` under the guard attached to them, if any. Call it
 * for every socket, new or reused (e.g. from a request's 'socket' event); it is cheap and
 * idempotent for the guards erab attaches. Options without a guard are ignored.
 * @example req.on('socket', (s) => guardClientSocket(opts, s as TLSSocket));
 */
export function guardClientSocket(options: tls.ConnectionOptions, socket: tls.TLSSocket): void {
  (options as { [GUARD]?: SocketGuard })[GUARD]?.track(socket);
}
