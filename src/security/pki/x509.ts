/**
 * The one place erab loads @peculiar/x509 (certificate and CRL encoding). The library needs
 * a Reflect metadata polyfill loaded before it (its dependency injection uses it), and signs
 * through a WebCrypto provider: erab uses node's own, OpenSSL-backed one. Import x509 from
 * here, never from '@peculiar/x509' directly, so the order is always right.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509, webcrypto };
