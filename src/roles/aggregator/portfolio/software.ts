/**
 * A gateway's own software in the portfolio (issue 13: every running role reports its erab
 * version, Node.js version and npm packages). The upload is checked by
 * src/roles/common/software-report.ts; here it is stored for the gateway the TLS peer is, which
 * must be in the portfolio. The vulnerability inventory (secops) reads this table.
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../../../core/clock.js';
import { describeError, IntegrityError, InvalidInputError, NotAuthorizedError, PolicyRefusedError } from '../../../core/errors.js';
import type { ExtraRoute } from '../../../protocols/openadr/http.js';
import { parseSoftwareDocument } from '../../common/software-report.js';
import { toJsonText } from '../../../store/schema.js';
import type { PortfolioTables } from './tables.js';

export interface SoftwareResult {
  gatewayId: string;
  digest: string;
  /** True when the same software was already recorded. */
  unchanged: boolean;
  erabVersion: string;
  packages: number;
}

/**
 * Stores the software upload of `uploader` (after every check of parseSoftwareDocument).
 * @throws PolicyRefusedError the gateway is not in the portfolio
 */
export async function acceptGatewaySoftware(db: Kysely<PortfolioTables>, uploader: string, body: Buffer | string, clock: Clock): Promise<SoftwareResult> {
  const doc = parseSoftwareDocument(body, uploader);
  const base = { gatewayId: uploader, digest: doc.digest, erabVersion: doc.erab.version, packages: doc.packages.length };
  return db.transaction().execute(async (trx) => {
    const gw = await trx.selectFrom('portfolio_gateway').select('id').where('id', '=', uploader).executeTakeFirst();
    if (!gw) throw new PolicyRefusedError(`gateway "${uploader}" is not in the portfolio: import it (with its site) before it can report its software`, { code: 'unknown_gateway' });
    const old = await trx.selectFrom('portfolio_gateway_software').select('digest').where('gateway_id', '=', uploader).executeTakeFirst();
    if (old?.digest === doc.digest) return { ...base, unchanged: true };
    const row = { digest: doc.digest, erab_name: doc.erab.name, erab_version: doc.erab.version, node_version: doc.node, packages: toJsonText(doc.packages), reported_at: clock.now() };
    if (old) await trx.updateTable('portfolio_gateway_software').set(row).where('gateway_id', '=', uploader).execute();
    else await trx.insertInto('portfolio_gateway_software').values({ gateway_id: uploader, ...row }).execute();
    return { ...base, unchanged: false };
  });
}

/**
 * The R4 route gateways POST their software to (SOFTWARE_REPORT_PATH): only a gateway peer, for
 * itself; `onChanged` runs when something new was recorded (the vulnerability inventory re-syncs).
 */
export function gatewaySoftwareRoute(portfolio: { acceptSoftware(u: { gatewayId: string }, body: Buffer): Promise<SoftwareResult> }, onChanged: (gatewayId: string) => void): ExtraRoute {
  const json = (status: number, body: unknown) => ({ status, contentType: 'application/json', body: JSON.stringify(body) });
  return async (body, peer) => {
    if (peer.role !== 'gateway' || !peer.id) return json(403, { error: 'only gateways report their software here' });
    try {
      const r = await portfolio.acceptSoftware({ gatewayId: peer.id }, body);
      if (!r.unchanged) onChanged(peer.id);
      return json(200, { digest: r.digest, unchanged: r.unchanged });
    } catch (err) {
      const status = err instanceof NotAuthorizedError ? 403 : err instanceof PolicyRefusedError ? 409 : err instanceof InvalidInputError || err instanceof IntegrityError ? 400 : 500;
      return json(status, { error: status === 500 ? 'internal error' : describeError(err).slice(0, 500) });
    }
  };
}
