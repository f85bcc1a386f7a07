/**
 * Update offers over R4 (ERAB §3.6): the aggregator offers signed packages (./update-package.ts)
 * to its gateways on the same mutual-TLS listener as its VTN, as three POST routes beside the
 * OpenADR services (the listener's extra routes, like the audit witness):
 *
 *   POST /erab/updates/offers   {}                        → { offers: [UpdateOffer...] } for this gateway
 *   POST /erab/updates/package  { packageId, version }    → the package file (JSON text)
 *   POST /erab/updates/result   UpdateResult              → { ok: true }; audited, kept in results.jsonl
 *
 * Why routes and not an OpenADR event: an oadrEvent has no place for a 16 MB signed package, and
 * a custom signal would be refused by every other VEN; the routes cost nothing to gateways that
 * never ask, and the allow-list and certificate checks of the listener already decide who asks.
 * The gateway asks on its own cadence (`updates.checkMs`, 15 minutes by default), so an offer is
 * learnt on the gateway's next check; a listener without these routes answers 404 (nothing offered).
 *
 * State is a folder (the aggregator's `updates.dir`), written by `erab update publish`:
 *   <dir>/offers.json         { offers: [...] }, rewritten atomically
 *   <dir>/packages/<file>     the signed packages, as published
 *   <dir>/results.jsonl       one line per result a gateway reported
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { InvalidInputError } from '../../core/errors.js';
import type { ExtraRoute, OadrPeer } from '../../protocols/openadr/http.js';
import type { AuditSink } from '../../security/audit/types.js';
import { writeFileAtomic } from '../../security/pki/store.js';
import { updateTargetSchema, VERSION_PATTERN, type UpdateTarget, type VerifiedPackage } from './update-package.js';

export const UPDATE_OFFERS_PATH = '/erab/updates/offers';
export const UPDATE_PACKAGE_PATH = '/erab/updates/package';
export const UPDATE_RESULT_PATH = '/erab/updates/result';

/** One package offered to gateways. */
export interface UpdateOffer {
  packageId: string;
  version: string;
  target: UpdateTarget;
  /** SHA-256 of the package file: the gateway checks the download against it. */
  sha256: string;
  size: number;
  publishedAt: string;
  /** Only these gateways (default all). */
  gateways?: string[] | undefined;
}

const offerSchema = z.object({
  packageId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
  version: z.string().regex(VERSION_PATTERN),
  target: updateTargetSchema,
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  publishedAt: z.string(),
  gateways: z.array(z.string()).optional(),
}).strict();
const offersFileSchema = z.object({ offers: z.array(offerSchema).max(10_000) }).strict();
/** What the gateway receives from the offers route. */
export const offersReplySchema = offersFileSchema;

/** What happened to one package on one gateway (per device for firmware). */
export const updateResultSchema = z.object({
  packageId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
  version: z.string().regex(VERSION_PATTERN),
  /** The device updated (firmware), absent for a configuration package. */
  deviceId: z.string().max(128).optional(),
  outcome: z.enum(['applied', 'refused', 'rolled-back', 'failed', 'not-applicable']),
  reason: z.string().max(2000).optional(),
  previousVersion: z.string().max(64).optional(),
  installedVersion: z.string().max(64).optional(),
}).strict();
export type UpdateResult = z.infer<typeof updateResultSchema>;

const downloadSchema = z.object({ packageId: z.string().max(64), version: z.string().max(40) }).strict();
const MAX_BODY = 16 * 1024;

const json = (status: number, body: unknown) => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

function parseBody<T>(body: Buffer, schema: z.ZodType<T>, what: string): T {
  if (body.length > MAX_BODY) throw new InvalidInputError(`${what} is larger than ${MAX_BODY} bytes`);
  let v: unknown;
  try {
    v = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidInputError(`${what} is not valid JSON`);
  }
  const r = schema.safeParse(v);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new InvalidInputError(`${what}: field ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}

/**
 * The aggregator's side: serves the offers of an updates folder to its gateways and records
 * what they report.
 * @example
 * const offers = new UpdateOffers({ dir: 'updates', audit, aggregatorId: 'AGG1' });
 * new DownstreamVtn({ ..., routes: offers.routes() });
 */
export class UpdateOffers {
  constructor(private readonly o: { dir: string; audit: AuditSink; aggregatorId: string; onResult?: (gatewayId: string, r: UpdateResult) => void }) {}

  get offersFile(): string { return join(this.o.dir, 'offers.json'); }
  get resultsFile(): string { return join(this.o.dir, 'results.jsonl'); }

  /** Every published offer (an absent file: none). */
  list(): UpdateOffer[] {
    if (!existsSync(this.offersFile)) return [];
    const r = offersFileSchema.safeParse(JSON.parse(readFileSync(this.offersFile, 'utf8')));
    if (!r.success) throw new InvalidInputError(`${this.offersFile}: ${r.error.issues[0]!.message}`);
    return r.data.offers;
  }

  /** The offers for one gateway. */
  offersFor(gatewayId: string): UpdateOffer[] {
    return this.list().filter((x) => !x.gateways || x.gateways.includes(gatewayId));
  }

  /**
   * Publishes a verified package (the caller opened it with the trust its gateways use): the file
   * goes to packages/, the offer to offers.json, replacing an offer of the same package id.
   */
  publish(pkg: VerifiedPackage, text: string, gateways?: string[]): UpdateOffer {
    const m = pkg.manifest;
    mkdirSync(join(this.o.dir, 'packages'), { recursive: true });
    writeFileAtomic(join(this.o.dir, 'packages', `${m.packageId}-${m.version}.erabpkg.json`), text);
    const offer: UpdateOffer = {
      packageId: m.packageId, version: m.version, target: m.target, sha256: pkg.sha256, size: Buffer.byteLength(text),
      publishedAt: new Date().toISOString(), ...(gateways && gateways.length > 0 ? { gateways } : {}),
    };
    const offers = [...this.list().filter((x) => x.packageId !== m.packageId), offer];
    writeFileAtomic(this.offersFile, `${JSON.stringify({ offers }, null, 2)}\n`);
    this.o.audit.append({
      actor: { kind: 'operator', id: this.o.aggregatorId }, action: 'aggregator.update.published', target: `${m.packageId}@${m.version}`, outcome: 'success',
      details: { sha256: pkg.sha256, target: m.target, signer: `${pkg.signer.role}:${pkg.signer.id}`, gateways: gateways ?? 'all' },
    });
    return offer;
  }

  /** Results gateways reported, oldest first. */
  results(): ({ gatewayId: string; at: string } & UpdateResult)[] {
    if (!existsSync(this.resultsFile)) return [];
    return readFileSync(this.resultsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { gatewayId: string; at: string } & UpdateResult);
  }

  /** The three routes for the R4 listener. */
  routes(): ReadonlyMap<string, ExtraRoute> {
    const guard = (fn: (body: Buffer, gatewayId: string) => ReturnType<ExtraRoute>): ExtraRoute => async (body, peer: OadrPeer) => {
      if (peer.role !== 'gateway' || !peer.id) return json(403, { error: 'only gateways ask for updates' });
      try {
        return await fn(body, peer.id);
      } catch (err) {
        if (err instanceof InvalidInputError) return json(400, { error: err.message });
        throw err;
      }
    };
    return new Map<string, ExtraRoute>([
      [UPDATE_OFFERS_PATH, guard(async (_b, gw) => json(200, { offers: this.offersFor(gw) }))],
      [UPDATE_PACKAGE_PATH, guard(async (body, gw) => {
        const q = parseBody(body, downloadSchema, 'update download request');
        const offer = this.offersFor(gw).find((x) => x.packageId === q.packageId && x.version === q.version);
        if (!offer) return json(404, { error: `no offer of ${q.packageId}@${q.version} for ${gw}` });
        const text = readFileSync(join(this.o.dir, 'packages', `${offer.packageId}-${offer.version}.erabpkg.json`), 'utf8');
        return { status: 200, contentType: 'application/json', body: text };
      })],
      [UPDATE_RESULT_PATH, guard(async (body, gw) => {
        const r = parseBody(body, updateResultSchema, 'update result');
        appendFileSync(this.resultsFile, `${JSON.stringify({ gatewayId: gw, at: new Date().toISOString(), ...r })}\n`);
        this.o.audit.append({
          actor: { kind: 'peer', id: `gateway:${gw}` }, action: 'aggregator.update.result', target: `${r.packageId}@${r.version}`,
          outcome: r.outcome === 'applied' ? 'success' : r.outcome === 'refused' ? 'refused' : 'failure',
          ...(r.reason ? { reason: r.reason } : {}),
          details: { ...(r.deviceId ? { deviceId: r.deviceId } : {}), outcome: r.outcome, previousVersion: r.previousVersion, installedVersion: r.installedVersion },
        });
        this.o.onResult?.(gw, r);
        return json(200, { ok: true });
      })],
    ]);
  }
}
