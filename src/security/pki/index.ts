/**
 * erab's PKI: a CA that issues participant certificates carrying `urn:erab:<role>:<id>`,
 * revokes them and signs CRLs; on disk (./store.ts, `erab pki`) or in memory (./authority.ts).
 *
 * @example
 * const pki = await initCa({ dir: '/tmp/pki' });            // or openPki({ dir, passphrase })
 * const tso = await pki.issue({ role: 'tso', id: 'TSO1' });  // files under issued/tso-TSO1/
 * await pki.rotate({ role: 'tso', id: 'TSO1' });             // new key+cert, old one superseded
 * await pki.revoke({ serial: tso.serial }, 'keyCompromise'); // CRL rewritten
 * pki.list();                                                // serial, role, id, fingerprint, status
 */
export * from './authority.js';
export * from './store.js';
export * from './crl.js';
export {
  parseCertificates,
  parsePrivateKey,
  parseCrls,
  readCertificatesFile,
  readPrivateKeyFile,
  toPem,
} from './pem.js';
export * from './code-signing.js';
export { toPkcs12, checkPkcs12Passphrase, MIN_P12_PASSPHRASE_LENGTH, type Pkcs12Input } from './pkcs12.js';
