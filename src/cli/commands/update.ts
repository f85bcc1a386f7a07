/**
 * `erab update ...`: signed update packages for gateways (自家用GL 7-1, ERAB §3.6), and
 * `erab release ...`: the signed manifest of erab's own files that every role checks at start.
 *
 *   erab update pack     --id P --package-version V --target device|config [--class C] [--maker HEX6] [--product P] [--gateway G...] --file F... --out U
 *   erab update pack     --id P --package-version V --target software [--gateway G...] --tree RELEASE_DIR --out U
 *   erab update sign     --in U --cert C --key K --out PKG        (the aggregator's code-signing certificate, never its TLS one)
 *   erab update verify   --in PKG --ca CA [--crl CRL] --aggregator ID
 *   erab update publish  --in PKG --dir UPDATES --ca CA [--crl CRL] --aggregator ID [--gateway G...]
 *   erab release manifest --sign-cert C --sign-key K [--root DIR] [--ship-ca CA]
 *   erab release verify  [--root DIR]
 */
import { Command, Option } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UpdateOffers } from '../../endpoints/openadr/update-offers.js';
import type { UpdateTarget } from '../../endpoints/openadr/update-package.js';
import { AuditLog } from '../../security/audit/log.js';
import { readTextFile } from '../../security/pki/pem.js';
import { loadSigner, packUnsigned, signUnsigned, verifyPackageFile } from '../../secops/updates/packaging.js';
import { checkReleaseIntegrity, writeReleaseManifest } from '../../secops/updates/release.js';
import { explain } from '../../core/errors.js';
import { t } from '../i18n.js';
import { UsageError } from '../usage.js';

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

function targetOf(o: { target: string; class?: string; maker?: string; product?: string; gateway?: string[] }): UpdateTarget {
  if (o.target === 'device') {
    if (o.gateway) throw new UsageError(explain('cli.update.gatewayForConfig'));
    return { kind: 'device', ...(o.class ? { deviceClass: o.class } : {}), ...(o.maker ? { makerCode: o.maker.toUpperCase() } : {}), ...(o.product ? { productCode: o.product } : {}) };
  }
  if (o.class || o.maker || o.product) throw new UsageError(explain('cli.update.deviceFilters'));
  return { kind: o.target === 'software' ? 'software' : 'config', ...(o.gateway ? { gatewayIds: o.gateway } : {}) };
}

/** Registers `erab update` and `erab release`. */
export function register(program: Command): void {
  const up = program.command('update').description('signed update packages for gateways: pack, sign (code-signing key), verify, publish to the R4 offers');

  up.command('pack')
    .description('pack files into an unsigned update package (manifest with SHA-256 of every file)')
    .requiredOption('--id <packageId>', 'package id')
    .requiredOption('--package-version <version>', 'dotted numeric version, e.g. 2.0.0 (not --version: that one prints erab\'s own)')
    .addOption(new Option('--target <kind>', 'device firmware, gateway configuration, or the gateway\'s own software (an erab release tree: --tree)').choices(['device', 'config', 'software']).makeOptionMandatory())
    .option('--class <deviceClass>', 'device class (battery, pv, ev, water_heater, aircon, meter)')
    .option('--maker <hex6>', 'ECHONET Lite maker code, 6 hex digits')
    .option('--product <code>', 'product code')
    .option('--gateway <id>', 'config or software target: only this gateway (repeatable)', collect)
    .option('--description <text>', 'what the update does')
    .option('--file <path>', 'file to include (repeatable; firmware: the image first)', collect)
    .option('--tree <dir>', 'software target: the erab release folder to pack (package.json, bin/, dist/, node_modules/)')
    .requiredOption('--out <file>', 'unsigned package to write')
    .action((o: { id: string; packageVersion: string; target: string; class?: string; maker?: string; product?: string; gateway?: string[]; description?: string; file?: string[]; tree?: string; out: string }) => {
      if (o.target === 'software' ? o.tree === undefined || o.file !== undefined : o.file === undefined || o.tree !== undefined) {
        throw new UsageError(o.target === 'software' ? explain('cli.update.softwareNeedsTree') : explain('cli.update.filesNeedFile', { target: o.target }));
      }
      const { text, manifest } = packUnsigned({ packageId: o.id, version: o.packageVersion, target: targetOf(o), ...(o.description ? { description: o.description } : {}) }, o.tree !== undefined ? { tree: o.tree } : o.file!);
      writeFileSync(o.out, text);
      process.stdout.write(`${t('update.packed', { id: manifest.packageId, version: manifest.version, files: manifest.files.length, out: o.out })}\n`);
    });

  up.command('sign')
    .description('sign an unsigned package with a code-signing certificate (erab pki issue --usage code-signing)')
    .requiredOption('--in <file>', 'unsigned package')
    .requiredOption('--cert <file>', 'code-signing certificate')
    .requiredOption('--key <file>', 'its private key (mode 0600)')
    .requiredOption('--out <file>', 'signed package to write')
    .action((o: { in: string; cert: string; key: string; out: string }) => {
      const text = signUnsigned(readTextFile(o.in, 'unsigned package'), loadSigner(o.cert, o.key), o.in);
      writeFileSync(o.out, text);
      process.stdout.write(`${t('update.signed', { out: o.out })}\n`);
    });

  up.command('verify')
    .description('verify a package as a gateway would: signature by the aggregator\'s code-signing certificate, CA, CRL, hashes')
    .requiredOption('--in <file>', 'signed package')
    .requiredOption('--ca <file>', 'CA certificate')
    .option('--crl <file>', 'CRL')
    .requiredOption('--aggregator <id>', 'the aggregator that must have signed it')
    .action(async (o: { in: string; ca: string; crl?: string; aggregator: string }) => {
      const pkg = await verifyPackageFile(readTextFile(o.in, 'update package'), { caFile: o.ca, crlFile: o.crl, aggregatorId: o.aggregator }, o.in);
      const m = pkg.manifest;
      process.stdout.write(`${t('update.valid', { id: m.packageId, version: m.version, target: JSON.stringify(m.target), signer: `${pkg.signer.role}:${pkg.signer.id}`, serial: pkg.signer.serial, files: m.files.length, sha256: pkg.sha256 })}\n`);
    });

  up.command('publish')
    .description('verify a package and offer it to gateways on the aggregator\'s R4 listener (its updates folder)')
    .requiredOption('--in <file>', 'signed package')
    .requiredOption('--dir <dir>', 'the aggregator\'s updates folder')
    .requiredOption('--ca <file>', 'CA certificate')
    .option('--crl <file>', 'CRL')
    .requiredOption('--aggregator <id>', 'our aggregator id (the signer)')
    .option('--gateway <id>', 'offer only to this gateway (repeatable)', collect)
    .action(async (o: { in: string; dir: string; ca: string; crl?: string; aggregator: string; gateway?: string[] }) => {
      const text = readTextFile(o.in, 'update package');
      const pkg = await verifyPackageFile(text, { caFile: o.ca, crlFile: o.crl, aggregatorId: o.aggregator }, o.in);
      const audit = AuditLog.open({ dir: join(o.dir, 'audit'), origin: `erab/aggregator-${o.aggregator}/updates/audit` });
      try {
        const offer = new UpdateOffers({ dir: o.dir, audit, aggregatorId: o.aggregator }).publish(pkg, text, o.gateway);
        process.stdout.write(`${t('update.published', { id: offer.packageId, version: offer.version, gateways: o.gateway?.join(', ') ?? t('update.everyGateway'), sha256: offer.sha256 })}\n`);
      } finally {
        audit.close();
      }
    });

  const rel = program.command('release').description('the signed manifest of erab\'s own files, checked by every role at start');
  rel.command('manifest')
    .description('write dist/release-manifest.json (SHA-256 of bin/, dist/src JS, package.json) and its signature')
    .requiredOption('--sign-cert <file>', 'code-signing certificate')
    .requiredOption('--sign-key <file>', 'its private key (mode 0600)')
    .option('--root <dir>', 'installed tree', '.')
    .option('--ship-ca <file>', 'CA certificate to ship as dist/release-ca.pem (else set ERAB_RELEASE_CA_FILE where it runs)')
    .action((o: { signCert: string; signKey: string; root: string; shipCa?: string }) => {
      const r = writeReleaseManifest(o.root, loadSigner(o.signCert, o.signKey), o.shipCa ? readFileSync(o.shipCa, 'utf8') : undefined);
      process.stdout.write(`${t('update.releaseManifest', { files: r.files, manifest: r.manifestFile, signature: r.signatureFile })}\n`);
    });
  rel.command('verify')
    .description('check the installed tree against its signed release manifest')
    .option('--root <dir>', 'installed tree', '.')
    .action((o: { root: string }) => {
      const r = checkReleaseIntegrity(o.root, { env: { ...process.env, ERAB_ALLOW_MODIFIED_CODE: '' } });
      process.stdout.write(r.checked ? `${t('update.intact', { version: r.version, files: r.files, signer: r.signer })}\n` : `${r.reason}\n`);
    });
}
