/**
 * Mutual TLS for every erab listener and client (ERAB cybersecurity guideline §3.3: mutual
 * authentication and encryption on R1–R4). The pieces live in ./tls/:
 *
 * - profiles.ts      TLS versions and cipher suites per interface (R1..R4, console, syslog)
 * - material.ts      our certificate(s)/key(s), trusted CA(s), CRL — `loadTlsMaterial`
 * - authenticator.ts the post-handshake decision (chain, expiry, CRL, erab identity,
 *                    allow-list), refusals audited; `peerOf(req)` for handlers
 * - server.ts        `serverTlsOptions`, `createMutualTlsServer`, `guardServer`
 * - client.ts        `clientTlsOptions` (verifies the server's chain, name, CRL, role/id)
 *
 * @example
 * const material = await loadTlsMaterial(pki.files('tso', 'TSO1'));
 * const { server } = createMutualTlsServer(
 *   { material, profile: 'R1', audit, allowList: { participants: ['aggregator:AGG1'] } },
 *   (req, res) => res.end(`hello ${peerOf(req)!.id}`),
 * );
 */
export * from './tls/profiles.js';
export * from './tls/material.js';
export * from './tls/authenticator.js';
export * from './tls/server.js';
export * from './tls/client.js';
